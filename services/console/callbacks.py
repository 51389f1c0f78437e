"""The console's callbacks page (/console/callbacks): the signed-in user's company's
Buzzeasy callback requests with their state, attempts, next attempt and full status
history (the CallbackEvent rows, in order). A user of no company sees every company's
requests only with global listening rights; otherwise nothing.

It reuses the console's sessions, templates and security headers (services/console/edge.py)."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Request, Response

from services.http.openapi import Param
from services.http.routing import Route
from storage.models import CallbackRequest, ServiceQueue

from .agent import PAGE_HEADERS  # the console's CSP for a page with one static script
from .edge import page as page_doc
from .sessions import csrf_for
from .views import local_time

PAGE_SIZE = 50


class CallbacksPage:
    def __init__(self, console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        from .callback_demo import CallbackDemo  # the customer-facing demo lives in its own module
        state = Param("state")
        return [Route("/console/callbacks", self.page, api=(page_doc("Recent callback requests", state),)),
                Route("/console/callbacks/live", self.live, api=(page_doc("The callback list fragment", state),)),
                *CallbackDemo(self.console.system).routes()]

    def page(self, request: Request) -> Response:
        from .edge import _redirect  # the console's own helper
        viewer = self.console.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        state = request.args.get("state") or None
        response = self.console._html("callbacks.html", viewer=viewer, requests=self._requests(viewer, state),
                                      state=state or "", csrf=csrf_for(viewer.token, "session"),
                                      timezone=str(viewer.zone))
        response.headers.update(PAGE_HEADERS)  # its one static script polls the list fragment
        return response

    def live(self, request: Request) -> Response:
        """The list alone, which /console/static/live.js fetches every second."""
        from .edge import _refused
        viewer = self.console.sessions.viewer(request)
        if viewer is None:
            return _refused(401, "sign in to the console first")
        state = request.args.get("state") or None
        return self.console._html("_callbacks_list.html", requests=self._requests(viewer, state))


    def _requests(self, viewer, state: Optional[str]) -> list[dict[str, Any]]:
        query = (select(CallbackRequest).options(selectinload(CallbackRequest.events))
                 .order_by(CallbackRequest.requested_at.desc(), CallbackRequest.id.desc()).limit(PAGE_SIZE))
        if viewer.company_id is not None:
            query = query.where(CallbackRequest.company_id == viewer.company_id)
        elif not viewer.global_listening:
            return []
        if state:
            query = query.where(CallbackRequest.state == state)
        def time(value):
            return local_time(value, viewer.zone)

        with self.console.system.database.read_session() as session:
            queues = {q.id: q.name for q in session.scalars(select(ServiceQueue))}
            return [{"code": r.confirmation_code, "name": r.name or "", "phone": r.phone_e164,
                     "queue": queues.get(r.queue_id, str(r.queue_id)),
                     "when": "ASAP" if r.asap else f"{time(r.scheduled_for)} (slot {r.timeslot_id})",
                     "requested": time(r.requested_at), "state": r.state, "attempts": r.attempts,
                     "retries": r.retries, "next_attempt": time(r.next_attempt_at) if r.state == "open" else "",
                     "fields": {k: v for k, v in sorted((r.fields or {}).items())},
                     "history": [{"status": e.status, "at": time(e.at), "attempt": e.attempt or ""}
                                 for e in r.events]}
                    for r in session.scalars(query)]
