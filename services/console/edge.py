"""The web console (CONTRACTS §7): a small server-rendered page at /console/.

A BMS user signs in with the same credentials as MP3 playback, sees the pending activity
links of the workstation extension (everything, with global listening rights), listens to
the candidate recordings and links one. Also: recent calls and recent callback requests,
and per call an options page (/console/calls/<id>): the call's details, its recording,
and the reviewed flag, sales status and journal of the Callbutton call detail report
(services.core.calloptions), for whoever may listen to the call.

Sessions: a random token in an HttpOnly, SameSite=Strict cookie scoped to /console, stored
only as a hash in `auth_tokens` (salted with a console prefix so a console session can
never be used as an agent-API TokenKey, nor the other way round), with an expiry.
Every POST carries a CSRF token derived from the session token (from a pre-session
cookie on the sign-in form). Pages are Jinja2 templates with autoescaping, and a
Content-Security-Policy that allows no script at all.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from services.core import calloptions, linking, recordings
from services.core.errors import (CallsuiteError, Conflict, Forbidden, InvalidInput, NotFound,
                                  Unauthorized)
from services.core.security import hash_token, new_token
from services.core.throttle import TooManyAttempts
from services.http.routing import Route
from storage.models import ActivityLink, AuthToken, CallbackRequest, Call, Recording, ServiceQueue, User

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "callsuite_console"
PRESESSION_COOKIE = "callsuite_console_pre"
COOKIE_PATH = "/console"
SESSION_TTL = timedelta(hours=8)
MAX_CREDENTIAL = 1024
CHECKED = frozenset({"1", "on", "true", "yes"})
UNCHECKED = frozenset({"", "0", "off", "false", "no"})
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; media-src 'self'; img-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                         autoescape=select_autoescape(("html",), default=True),
                         trim_blocks=True, lstrip_blocks=True)


def _session_hash(token: str) -> str:
    return hash_token("console-session:" + token)


def _csrf_for(secret: str, purpose: str) -> str:
    return hmac.new(secret.encode(), f"callsuite-console-csrf:{purpose}".encode(), hashlib.sha256).hexdigest()


def _csrf_ok(request: Request, secret: Optional[str], purpose: str) -> bool:
    sent = request.form.get("csrf", "")
    return bool(secret) and bool(sent) and hmac.compare_digest(sent, _csrf_for(secret, purpose))


def _refused(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def _redirect(location: str) -> Response:
    response = Response("", status=303, headers={"Location": location})
    response.headers.update(SECURITY_HEADERS)
    return response


class Viewer:
    """The signed-in user, as the page needs it (plain values, no ORM objects)."""

    def __init__(self, user: User, token: str) -> None:
        self.id = user.id
        self.username = user.username
        self.full_name = user.full_name
        self.extension = user.extension
        self.global_listening = user.global_listening
        self.company_id = user.company_id
        self.token = token

    @property
    def scope(self) -> Optional[str]:
        """The extension whose links and calls this user sees; None means all."""
        return None if self.global_listening else self.extension

    @property
    def sees_anything(self) -> bool:
        return self.global_listening or bool(self.extension)

    def sees_extension(self, extension: Optional[str]) -> bool:
        return self.global_listening or (bool(self.extension) and extension == self.extension)


class Console:
    def __init__(self, system) -> None:
        self.system = system
        self.zone = ZoneInfo(system.settings.timezone)

    def routes(self) -> list[Route]:
        return [
            Route("/console/", self.home),
            Route("/console/signin", self.signin_form),
            Route("/console/signin", self.signin, methods=("POST",)),
            Route("/console/signout", self.signout, methods=("POST",)),
            Route("/console/link", self.link, methods=("POST",)),
            Route("/console/calls/<int:call_id>", self.call_page),
            Route("/console/calls/<int:call_id>", self.call_options, methods=("POST",)),
            Route("/console/recordings/<reference>.mp3", self.recording),
            Route("/console/static/console.css", self.stylesheet),
        ]

    # --- sessions -------------------------------------------------------------------------

    def _viewer(self, request: Request) -> Optional[Viewer]:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return None
        now = datetime.now(timezone.utc)
        with self.system.database.session() as session:
            row = session.get(AuthToken, _session_hash(token))
            if row is None or row.expires_at <= now:
                return None
            user = session.get(User, row.user_id)
            return Viewer(user, token) if user is not None else None

    def _secure(self, request: Request) -> bool:
        base = self.system.settings.public_base_url or ""
        return request.scheme == "https" or base.startswith("https:")

    def _set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                            samesite="Strict", secure=self._secure(request))

    # --- sign in / out ----------------------------------------------------------------

    def signin_form(self, request: Request) -> Response:
        if self._viewer(request) is not None:
            return _redirect("/console/")
        return self._signin_page(request)

    def _signin_page(self, request: Request, *, error: Optional[str] = None, username: str = "",
                     status: int = 200) -> Response:
        pre = request.cookies.get(PRESESSION_COOKIE)
        if not pre or len(pre) > 200:
            pre = new_token()
        response = self._html("signin.html", status=status, error=error, username=username,
                              csrf=_csrf_for(pre, "signin"))
        self._set_cookie(response, request, PRESESSION_COOKIE, pre, max_age=3600)
        return response

    def signin(self, request: Request) -> Response:
        if not _csrf_ok(request, request.cookies.get(PRESESSION_COOKIE), "signin"):
            return _refused(403, "CSRF token missing or wrong; reload the sign-in page")
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            if len(username) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
                raise Unauthorized("credentials too long")
            now = datetime.now(timezone.utc)
            token = new_token()
            user = self.system.throttle.authenticate(
                self.system.database, "console", username, request.remote_addr,
                lambda: recordings.authenticate(self.system.database, username, password))
            with self.system.database.session() as session:
                session.execute(delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at < now))
                session.add(AuthToken(token_hash=_session_hash(token), user_id=user.id, issued_at=now,
                                      expires_at=now + SESSION_TTL))
        except Unauthorized:
            log.info("console sign-in refused for %r", username[:100])
            return self._signin_page(request, error="Wrong username or password.", username=username[:100],
                                     status=401)
        except TooManyAttempts as exc:
            log.info("console sign-in refused for %r: too many failures", username[:100])
            minutes = -(-exc.retry_after_s // 60)
            response = self._signin_page(request, username=username[:100], status=429, error=(
                f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."))
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        response = _redirect("/console/")
        self._set_cookie(response, request, SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()))
        response.delete_cookie(PRESESSION_COOKIE, path=COOKIE_PATH)
        return response

    def signout(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not _csrf_ok(request, viewer.token, "session"):
            return _refused(403, "CSRF token missing or wrong")
        with self.system.database.session() as session:
            session.execute(delete(AuthToken).where(AuthToken.token_hash == _session_hash(viewer.token)))
        response = _redirect("/console/signin")
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict")
        return response

    # --- the page ------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        notice = None
        linked = request.args.get("linked", "")
        if linked.isdigit():
            with self.system.database.session() as session:
                link = session.get(ActivityLink, int(linked))
                if link is not None and link.state == "linked" and viewer.sees_extension(link.extension):
                    notice = (link.activity_id, link.recording.reference if link.recording else "")
        return self._page(viewer, notice=notice)

    def _page(self, viewer: Viewer, *, notice=None, error: Optional[str] = None, status: int = 200) -> Response:
        with self.system.database.session() as session:
            context = self._page_data(session, viewer)
        return self._html("console.html", status=status, viewer=viewer, notice=notice, error=error,
                          csrf=_csrf_for(viewer.token, "session"), timezone=self.system.settings.timezone,
                          **context)

    def _page_data(self, session: Session, viewer: Viewer) -> dict[str, Any]:
        pending, linked, calls, callbacks = [], [], [], []
        if viewer.sees_anything:
            for link in linking.pending_links(session, viewer.scope, limit=50):
                candidates = [self._recording_view(r) for r in linking.candidate_recordings(session, link)]
                pending.append({**self._link_view(link), "candidates": candidates})
            query = select(ActivityLink).where(ActivityLink.state == "linked")
            if viewer.scope is not None:
                query = query.where(ActivityLink.extension == viewer.scope)
            for link in session.scalars(query.order_by(ActivityLink.linked_at.desc()).limit(10)):
                linked.append({**self._link_view(link), "reference": link.recording.reference if link.recording else "",
                               "linked_at": self._time(link.linked_at), "linked_by": link.linked_by or ""})
            query = select(Call).options(selectinload(Call.recording))
            if viewer.scope is not None:
                query = query.where(Call.extension == viewer.scope)
            for call in session.scalars(query.order_by(Call.started_at.desc(), Call.id.desc()).limit(20)):
                recording = call.recording
                calls.append({"id": call.id, "time": self._time(call.started_at), "direction": call.direction,
                              "extension": call.extension or "", "calling": call.ani or "",
                              "called": call.did or call.target or "", "state": call.state,
                              "duration": _duration(call.duration_s), "result": call.result or "",
                              "reference": recording.reference if recording else "",
                              "playable": recording is not None and recording.state == "available"})
        query = (select(CallbackRequest).options(selectinload(CallbackRequest.events))
                 .order_by(CallbackRequest.requested_at.desc(), CallbackRequest.id.desc()).limit(10))
        if viewer.company_id is not None:
            query = query.where(CallbackRequest.company_id == viewer.company_id)
        elif not viewer.global_listening:
            query = None
        if query is not None:
            queues = {q.id: q.name for q in session.scalars(select(ServiceQueue))}
            for request in session.scalars(query):
                latest = request.events[-1] if request.events else None
                callbacks.append({"requested": self._time(request.requested_at), "code": request.confirmation_code,
                                  "name": request.name or "", "phone": request.phone_e164,
                                  "queue": queues.get(request.queue_id, str(request.queue_id)),
                                  "when": "ASAP" if request.asap else self._time(request.scheduled_for),
                                  "state": request.state,
                                  "status": latest.status if latest else "",
                                  "status_at": self._time(latest.at) if latest else ""})
        return {"pending": pending, "linked": linked, "calls": calls, "callbacks": callbacks}

    def _link_view(self, link: ActivityLink) -> dict[str, Any]:
        return {"id": link.id, "activity_id": link.activity_id, "type": link.bms_type or "",
                "data": [getattr(link, f"data{i}") or "" for i in range(1, 6)],
                "host": link.host or "", "extension": link.extension or "",
                "requested": self._time(link.requested_at)}

    def _recording_view(self, recording: Recording) -> dict[str, Any]:
        call = recording.call
        return {"reference": recording.reference, "time": self._time(call.started_at),
                "calling": call.ani or "", "called": call.did or call.target or "",
                "duration": _duration(recording.duration_s if recording.duration_s is not None else call.duration_s)}

    def _time(self, value: Optional[datetime]) -> str:
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""

    # --- linking ---------------------------------------------------------------------------

    def link(self, request: Request) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not _csrf_ok(request, viewer.token, "session"):
            return _refused(403, "CSRF token missing or wrong")
        link_id, reference = request.form.get("link", ""), request.form.get("reference", "").strip()
        if not link_id.isdigit() or not reference:
            return self._page(viewer, error="Choose a recording to link.", status=400)
        try:
            with self.system.database.session() as session:
                link = session.get(ActivityLink, int(link_id))
                if link is None or not viewer.sees_extension(link.extension):
                    raise NotFound("no such pending activity")
                if link.state != "pending":
                    raise Conflict(f"activity {link.activity_id} is already linked")
                user = session.get(User, viewer.id)
                recordings.recording_for_listener(session, user, reference)
                linked = linking.link_recording(session, link.activity_id, reference, linked_by=viewer.username)
                if not viewer.sees_extension(linked.extension):  # a namesake on another extension
                    raise NotFound("no such pending activity")  # rolls the whole transaction back
                linked_id = linked.id
        except Forbidden:
            return self._page(viewer, error="You may not use that recording.", status=403)
        except NotFound as exc:
            return self._page(viewer, error=str(exc), status=404)
        except CallsuiteError as exc:
            return self._page(viewer, error=str(exc), status=409)
        log.info("console: %s linked activity %r to recording %s", viewer.username, link.activity_id, reference)
        return _redirect(f"/console/?linked={linked_id}")

    # --- call options ------------------------------------------------------------------------

    def call_page(self, request: Request, call_id: int) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        notice = "Call options saved." if request.args.get("saved") == "1" else None
        return self._call_page(viewer, call_id, notice=notice)

    def call_options(self, request: Request, call_id: int) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not _csrf_ok(request, viewer.token, "session"):
            return _refused(403, "CSRF token missing or wrong")
        form = {"reviewed": request.form.get("reviewed", ""), "sales_status": request.form.get("sales_status", ""),
                "journal": request.form.get("journal", "")}
        try:
            with self.system.database.session() as session:
                user = session.get(User, viewer.id)
                if form["reviewed"] not in CHECKED | UNCHECKED:
                    calloptions.call_for_editor(session, user, call_id)  # who may not see it learns nothing
                    raise InvalidInput("reviewed must be checked or not")
                calloptions.set_call_options(session, user, call_id, reviewed=form["reviewed"] in CHECKED,
                                             sales_status=form["sales_status"], journal=form["journal"])
        except InvalidInput as exc:
            return self._call_page(viewer, call_id, error=str(exc), form=form, status=400)
        except (Forbidden, NotFound) as exc:
            return self._call_refused(viewer, exc)
        log.info("console: %s set the options of call %s", viewer.username, call_id)
        return _redirect(f"/console/calls/{call_id}?saved=1")

    def _call_page(self, viewer: Viewer, call_id: int, *, notice: Optional[str] = None, error: Optional[str] = None,
                   form: Optional[dict[str, str]] = None, status: int = 200) -> Response:
        try:
            with self.system.database.read_session() as session:
                call = calloptions.call_for_editor(session, session.get(User, viewer.id), call_id)
                details = self._call_view(call)
        except (Forbidden, NotFound) as exc:
            return self._call_refused(viewer, exc)
        if form is None:
            form = {"reviewed": "1" if details["reviewed"] else "", "sales_status": details["sales_status"],
                    "journal": details["journal"]}
        return self._html("call.html", status=status, viewer=viewer, call=details, notice=notice, error=error,
                          form={**form, "reviewed": form["reviewed"] in CHECKED},
                          sales_statuses=calloptions.SALES_STATUSES, max_journal=calloptions.MAX_JOURNAL,
                          csrf=_csrf_for(viewer.token, "session"), timezone=self.system.settings.timezone)

    def _call_refused(self, viewer: Viewer, exc: CallsuiteError) -> Response:
        if isinstance(exc, Forbidden):
            return self._page(viewer, error="You may not see that call.", status=403)
        return self._page(viewer, error="No such call.", status=404)

    def _call_view(self, call: Call) -> dict[str, Any]:
        recording = call.recording
        return {"id": call.id, "time": self._time(call.started_at), "answered": self._time(call.answered_at),
                "ended": self._time(call.ended_at), "direction": call.direction, "extension": call.extension or "",
                "calling": call.ani or "", "called": call.did or "", "target": call.target or "",
                "state": call.state, "result": call.result or "", "duration": _duration(call.duration_s),
                "talk_time": _duration(call.talk_time_s), "dtmf": call.dtmf or "",
                "reference": recording.reference if recording else "",
                "recording_state": recording.state if recording else "",
                "playable": recording is not None and recording.state == "available" and bool(recording.file_path),
                "reviewed": bool(call.reviewed), "sales_status": call.sales_status or "",
                "journal": call.journal or ""}

    # --- audio and assets ----------------------------------------------------------------

    def recording(self, request: Request, reference: str) -> Response:
        viewer = self._viewer(request)
        if viewer is None:
            return _refused(401, "sign in to the console first")
        try:
            with self.system.database.session() as session:
                recording = recordings.recording_for_listener(session, session.get(User, viewer.id), reference)
                path = self.system.store.path_of(recording.file_path)
                modified = recording.available_at
        except Forbidden:
            return _refused(403, "you may not listen to that recording")
        except NotFound:
            return _refused(404, "no such recording")
        response = send_file(path, request.environ, mimetype="audio/mpeg", conditional=True, etag=True,
                             last_modified=modified, max_age=0, download_name=f"{reference}.mp3")
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def stylesheet(self, request: Request) -> Response:
        response = send_file(HERE / "static" / "console.css", request.environ, mimetype="text/css",
                             conditional=True, max_age=300)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- rendering -----------------------------------------------------------------------

    def _html(self, template: str, *, status: int = 200, **context) -> Response:
        body = _templates.get_template(template).render(**context)
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        response.headers.update(SECURITY_HEADERS)
        return response


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def routes(system) -> list[Route]:
    return Console(system).routes()
