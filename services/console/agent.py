"""The web agent (issue 13, item 5): /console/agent, where a signed-in console user works
as an agent — logs in to a campaign, goes ready, dials, sees its calls, holds, pauses the
recording, hangs up and disposes.

The page and the agent API (services.agent) are two doors to one session: both call
services.core.agents on the database, so what the API does shows here. The page polls a
fragment (/console/agent/live) from a small static script, and swaps it in only when it
changed; without script the page still works (every action is a plain form POST).
Sign-in, session cookie and CSRF are the console's own.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from werkzeug.wrappers import Request, Response

from services.core import agents
from services.core.errors import CallsuiteError
from services.http.routing import Route
from storage.models import Campaign, ResultCode, User

from .edge import SECURITY_HEADERS, Console, _redirect, _refused, _templates
from .edge import page as page_doc
from .sessions import csrf_for, csrf_ok

log = logging.getLogger(__name__)
PAGE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")}
CALL_ACTIONS = ("hold", "retrieve", "stoprecord", "startrecord", "hangup", "dispose")


class WebAgent:
    def __init__(self, system) -> None:
        self.system = system
        self.console = Console(system)

    def routes(self) -> list[Route]:
        return [
            Route("/console/agent", self.page, api=(page_doc("The web agent"),)),
            Route("/console/agent/live", self.live, api=(page_doc("The web agent's live fragment"),)),
            Route("/console/agent/<any(login,logout,ready,dial):action>", self.act, methods=("POST",),
                  api=(page_doc("The web agent: log in or out, go ready, dial",
                            form={"campaign": {"type": "string"}, "phone": {"type": "string"}}),)),
            Route("/console/agent/calls/<int:call_id>/<any({}):action>".format(",".join(CALL_ACTIONS)),
                  self.act_on_call, methods=("POST",),
                  api=(page_doc("The web agent: act on a call", form={"resultcode": {"type": "string"}}),)),
        ]

    # --- pages -----------------------------------------------------------------------

    def page(self, request: Request) -> Response:
        viewer = self.console.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        return self._render("agent.html", viewer, error=request.args.get("error"))

    def live(self, request: Request) -> Response:
        viewer = self.console.sessions.viewer(request)
        if viewer is None:
            return _refused(401, "sign in to the console first")
        return self._render("_agent_live.html", viewer)

    def _render(self, template: str, viewer, *, error: Optional[str] = None, status: int = 200) -> Response:
        desk = self.system.agent_desk
        with self.system.database.read_session() as session:
            actor = session.get(User, viewer.id)
            campaigns = [{"id": c.id, "name": c.name} for c in
                         session.query(Campaign).filter(Campaign.active.is_(True)).order_by(Campaign.id)]
            codes = [{"code": r.code, "description": r.description} for r in
                     session.query(ResultCode).filter(ResultCode.is_agent_viewable.is_(True)).order_by(ResultCode.id)]
        state = desk.agent(actor, viewer.id)
        calls = desk.calls(actor, viewer.id)
        body = _templates.get_template(template).render(
            viewer=viewer, agent=state, calls=[self._call(c) for c in calls], campaigns=campaigns,
            result_codes=codes, error=error, csrf=csrf_for(viewer.token, "session"))
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        response.headers.update(PAGE_HEADERS)
        return response

    @staticmethod
    def _call(call: agents.CallView) -> dict[str, Any]:
        return {"id": call.call_id, "phone": call.phone_number, "customer": call.customer_name,
                "state": call.state_name, "status": call.status_name, "recording": call.recording_name}

    # --- actions ---------------------------------------------------------------------

    def _authorised(self, request: Request):
        viewer = self.console.sessions.viewer(request)
        if viewer is None:
            return None, _redirect("/console/signin")
        if not csrf_ok(request, viewer.token, "session"):
            return None, _refused(403, "CSRF token missing or wrong")
        with self.system.database.read_session() as session:
            return (viewer, session.get(User, viewer.id)), None

    def act(self, request: Request, action: str) -> Response:
        who, refusal = self._authorised(request)
        if refusal is not None:
            return refusal
        viewer, actor = who
        desk = self.system.agent_desk
        try:
            if action == "login":
                campaign = request.form.get("campaign", "")
                desk.run(agents.login, actor, viewer.id, int(campaign) if campaign.isdigit() else None)
            elif action == "logout":
                desk.run(agents.logout, actor, viewer.id)
            elif action == "ready":
                desk.run(agents.go_ready, actor, viewer.id)
            else:
                desk.dial(actor, viewer.id, request.form.get("phone", "").strip(), None)
        except CallsuiteError as exc:
            return self._failed(viewer, exc)
        return _redirect("/console/agent")

    def act_on_call(self, request: Request, call_id: int, action: str) -> Response:
        who, refusal = self._authorised(request)
        if refusal is not None:
            return refusal
        viewer, actor = who
        desk = self.system.agent_desk
        try:
            if action == "dispose":
                desk.dispose(actor, viewer.id, call_id, agents.Disposition(request.form.get("resultcode", "")))
            else:
                operation = {"hold": desk.hold, "retrieve": desk.retrieve, "stoprecord": desk.stop_record,
                             "startrecord": desk.start_record, "hangup": desk.hangup}[action]
                operation(actor, viewer.id, call_id)
        except CallsuiteError as exc:
            return self._failed(viewer, exc)
        return _redirect("/console/agent")

    def _failed(self, viewer, exc: CallsuiteError) -> Response:
        log.info("web agent %s: %s", viewer.username, exc)
        return self._render("agent.html", viewer, error=str(exc), status=409)



def routes(system) -> list[Route]:
    return WebAgent(system).routes()
