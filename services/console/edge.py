"""The web console (CONTRACTS §7): a small server-rendered site at /console/.

A BMS user signs in with the same credentials as MP3 playback, sees the pending activity
links of the workstation extension (everything, with global listening rights), a page at
a time and searchable, listens to a candidate recording (one player, loaded only when
asked for) and links one. Also: the calls (/console/calls: paged, newest first, searchable
by phone number, date and linked activity id), recent callback requests, and per call an
options page (/console/calls/<id>): the call's details, its recording, and the reviewed
flag, sales status and journal of the Callbutton call detail report
(services.core.calloptions), for whoever may listen to the call. Times are shown in the
user's company's zone (the server's `timezone` for users of no company).

Sessions and CSRF: services/console/sessions.py. Pages are Jinja2 templates with
autoescaping, and a Content-Security-Policy that allows no script at all.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from services.core import calloptions, linking, recordings
from services.core.errors import CallsuiteError, Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from services.core.security import new_token
from services.core.throttle import TooManyAttempts
from services.http.media import open_audio, send_mp3
from services.http.openapi import HTML, MP3, TEXT, Operation, Param, obj
from services.http.routing import Route
from services.http.wsgi import parse_id
from storage.models import ActivityLink, User

from . import queries, views
from .sessions import COOKIE_PATH, PRESESSION_COOKIE, SESSION_COOKIE, SESSION_TTL, Sessions, Viewer, csrf_for, csrf_ok

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# Every file the console's pages load, served by one route (no other name reaches the disk).
STATIC_FILES = {"console.css": "text/css", "live.js": "text/javascript", "callback_demo.js": "text/javascript"}
MAX_CREDENTIAL = 1024
MAX_REFERENCE = 64
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

# --- the OpenAPI description: HTML pages for people, behind a session cookie -----------
_PAGE_ANSWER = {HTML: {"type": "string"}, TEXT: {"type": "string"}}
_PAGE_ANSWERS = {**{status: _PAGE_ANSWER for status in (200, 400, 401, 403, 404, 409, 413, 429)}, 303: {}}
_FORM = "application/x-www-form-urlencoded"
_CSRF = {"csrf": {"type": "string"}}


def page(summary: str, *params: Param, form: Optional[dict] = None, security: tuple = ("console",)) -> Operation:
    """A console page or form post: HTML, a redirect (303) to the sign-in page without a session."""
    return Operation(summary, tag="Console", params=params, responses=_PAGE_ANSWERS, security=security,
                     body=None if form is None else {_FORM: obj({**_CSRF, **form})}, body_required=False)


_SEARCH = (Param("phone"), Param("date"), Param("activity"), Param("page", schema={"type": "integer", "minimum": 1}))
_AUDIO = {MP3: {"type": "string", "format": "binary"}}
_S = {"type": "string"}
API = {
    "home": page("Pending activity links and recent calls", *_SEARCH, Param("play"), Param("linked")),
    "signin_form": page("The sign-in page", security=()),
    "signin": page("Sign in (username, password)", form={"username": _S, "password": _S}, security=()),
    "signout": page("Sign out", form={}),
    "link": page("Link a pending activity to a recording", form={"link": _S, "reference": _S}),
    "calls": page("The calls, newest first", *_SEARCH),
    "call_page": page("A call's details and options"),
    "call_options": page("Save a call's options", form={"reviewed": _S, "sales_status": _S, "journal": _S}),
    "protect": page("Protect a call's recording from retention deletion", form={}),
    "recording": Operation("A recording for the console's player", tag="Console", security=("console",),
                           params=(Param("Range", "header"),),
                           responses={200: _AUDIO, 206: _AUDIO, 304: {}, 401: {TEXT: _S}, 403: {TEXT: _S},
                                      404: {TEXT: _S}, 416: {TEXT: _S}}),
    "static": Operation("The console's style sheet and scripts", tag="Console",
                        responses={200: {"text/css": _S, "text/javascript": _S}, 304: {}}),
}

_templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                         autoescape=select_autoescape(("html",), default=True),
                         trim_blocks=True, lstrip_blocks=True)


def _refused(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, content_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def _redirect(location: str) -> Response:
    response = Response("", status=303, headers={"Location": location})
    response.headers.update(SECURITY_HEADERS)
    return response


def _url(path: str, **args: Any) -> str:
    args = {k: v for k, v in args.items() if v not in (None, "")}
    return path + ("?" + urlencode(args) if args else "")


def _pager(page: queries.Page, path: str, search: queries.Search) -> dict[str, Any]:
    return {"total": page.total, "number": page.number, "pages": page.pages,
            "previous": _url(path, **search.as_args(), page=page.previous) if page.previous else None,
            "next": _url(path, **search.as_args(), page=page.next) if page.next else None}


class Console:
    def __init__(self, system) -> None:
        self.system = system
        self.sessions = Sessions(system.database, default_zone=ZoneInfo(system.settings.timezone),
                                 public_base_url=system.settings.public_base_url)

    def routes(self) -> list[Route]:
        return [
            Route("/console/", self.home, api=(API["home"],)),
            Route("/console/signin", self.signin_form, api=(API["signin_form"],)),
            Route("/console/signin", self.signin, methods=("POST",), api=(API["signin"],)),
            Route("/console/signout", self.signout, methods=("POST",), api=(API["signout"],)),
            Route("/console/link", self.link, methods=("POST",), api=(API["link"],)),
            Route("/console/calls", self.calls, api=(API["calls"],)),
            Route("/console/calls/<int:call_id>", self.call_page, api=(API["call_page"],)),
            Route("/console/calls/<int:call_id>", self.call_options, methods=("POST",), api=(API["call_options"],)),
            Route("/console/calls/<int:call_id>/protect", self.protect, methods=("POST",), api=(API["protect"],)),
            Route("/console/recordings/<reference>.mp3", self.recording, api=(API["recording"],)),
            Route("/console/static/<any({}):name>".format(",".join(STATIC_FILES)), self.static,
                  api=(API["static"],)),
        ]

    # --- sign in / out ----------------------------------------------------------------

    def signin_form(self, request: Request) -> Response:
        if self.sessions.viewer(request) is not None:
            return _redirect("/console/")
        return self._signin_page(request)

    def _signin_page(self, request: Request, *, error: Optional[str] = None, username: str = "",
                     status: int = 200) -> Response:
        pre = self.sessions.presession(request) or new_token()
        response = self._html("signin.html", status=status, error=error, username=username,
                              csrf=csrf_for(pre, "signin"))
        self.sessions.set_cookie(response, request, PRESESSION_COOKIE, pre, max_age=3600)
        return response

    def signin(self, request: Request) -> Response:
        if not csrf_ok(request, self.sessions.presession(request), "signin"):
            return _refused(403, "CSRF token missing or wrong; reload the sign-in page")
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            if len(username) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
                raise Unauthorized("credentials too long")
            user = self.system.throttle.authenticate(
                self.system.database, "console", username, request.remote_addr,
                lambda session: recordings.user_named(session, username),
                lambda found: recordings.verified_user(found, password))
            token = new_token()
            self.sessions.start(user.id, token)
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
        self.sessions.set_cookie(response, request, SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()))
        response.delete_cookie(PRESESSION_COOKIE, path=COOKIE_PATH)
        return response

    def signout(self, request: Request) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not csrf_ok(request, viewer.token, "session"):
            return _refused(403, "CSRF token missing or wrong")
        self.sessions.end(viewer.token)
        response = _redirect("/console/signin")
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict")
        return response

    # --- the home page: pending links --------------------------------------------------

    def home(self, request: Request) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        notice = None
        linked = parse_id(request.args.get("linked"))
        if linked is not None:
            with self.system.database.session() as session:
                link = session.get(ActivityLink, linked)
                if link is not None and link.state == "linked" and viewer.sees_extension(link.extension):
                    notice = (link.activity_id, link.recording.reference if link.recording else "")
        return self._home(viewer, request, notice=notice)

    def _search(self, request: Request) -> tuple[queries.Search, Optional[str]]:
        try:
            return queries.Search.from_args(request.args), None
        except queries.BadSearch as exc:
            return queries.Search(), str(exc)

    def _home(self, viewer: Viewer, request: Request, *, notice=None, error: Optional[str] = None,
              status: int = 200) -> Response:
        search, bad_search = self._search(request)
        if bad_search and status == 200:
            error, status = bad_search, 400
        number = parse_id(request.args.get("page")) or 1
        play = request.args.get("play", "")[:MAX_REFERENCE]
        zone = viewer.zone
        pending, linked, calls, callbacks = [], [], [], []
        pager, calls_total = None, 0
        with self.system.database.read_session() as session:
            if viewer.sees_anything:
                page = queries.pending_links(session, viewer.scope, search, zone, number)
                pager = _pager(page, "/console/", search)
                for link in page.items:
                    candidates = []
                    for recording in linking.candidate_recordings(session, link):
                        view = views.recording_view(recording, zone)
                        choice = f"{link.id}:{recording.reference}"  # the one row whose player to show
                        view["listen"] = _url("/console/", **search.as_args(), page=page.number, play=choice) \
                            + "#player"
                        view["playing"] = choice == play
                        candidates.append(view)
                    pending.append({**views.link_view(link, zone), "candidates": candidates})
                linked = [views.linked_view(link, zone) for link in queries.recently_linked(session, viewer.scope)]
                recent = queries.calls(session, viewer.scope, queries.Search(), zone, 1, size=10)
                calls = [views.call_row(call, zone) for call in recent.items]
                calls_total = recent.total
            requests_, queues = queries.recent_callbacks(session, viewer.company_id, viewer.global_listening)
            callbacks = [views.callback_view(r, queues, zone) for r in requests_]
        return self._html("console.html", status=status, viewer=viewer, notice=notice, error=error,
                          csrf=csrf_for(viewer.token, "session"), timezone=zone.key, search=search,
                          pending=pending, pager=pager, linked=linked, calls=calls,
                          calls_total=calls_total, callbacks=callbacks)

    # --- linking ---------------------------------------------------------------------------

    def link(self, request: Request) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not csrf_ok(request, viewer.token, "session"):
            return _refused(403, "CSRF token missing or wrong")
        link_id, reference = parse_id(request.form.get("link")), request.form.get("reference", "").strip()
        if link_id is None or not reference:
            return self._home(viewer, request, error="Choose a recording to link.", status=400)
        try:
            with self.system.database.session() as session:
                link = session.get(ActivityLink, link_id)
                if link is None or not viewer.sees_extension(link.extension):
                    raise NotFound("no such pending activity")
                if link.state != "pending":
                    raise Conflict(f"activity {link.activity_id} is already linked")
                activity_id = link.activity_id
                user = session.get(User, viewer.id)
                recordings.recording_for_listener(session, user, reference)
                linked = linking.link_recording(session, activity_id, reference, linked_by=viewer.username)
                if not viewer.sees_extension(linked.extension):  # a namesake on another extension
                    raise NotFound("no such pending activity")  # rolls the whole transaction back
                linked_id = linked.id
        except Forbidden:
            return self._home(viewer, request, error="You may not use that recording.", status=403)
        except NotFound as exc:
            return self._home(viewer, request, error=str(exc), status=404)
        except CallsuiteError as exc:
            return self._home(viewer, request, error=str(exc), status=409)
        log.info("console: %s linked activity %r to recording %s", viewer.username, activity_id, reference)
        return _redirect(f"/console/?linked={linked_id}")

    # --- calls -------------------------------------------------------------------------------

    def calls(self, request: Request) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        search, error = self._search(request)
        number = parse_id(request.args.get("page")) or 1
        rows, pager = [], None
        if viewer.sees_anything:
            with self.system.database.read_session() as session:
                page = queries.calls(session, viewer.scope, search, viewer.zone, number)
                rows = [views.call_row(call, viewer.zone) for call in page.items]
            pager = _pager(page, "/console/calls", search)
        return self._html("calls.html", status=400 if error else 200, viewer=viewer, error=error, search=search,
                          calls=rows, pager=pager, csrf=csrf_for(viewer.token, "session"),
                          timezone=viewer.zone.key)

    def call_page(self, request: Request, call_id: int) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        notice = "Call options saved." if request.args.get("saved") == "1" else None
        return self._call_page(viewer, request, call_id, notice=notice)

    def call_options(self, request: Request, call_id: int) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not csrf_ok(request, viewer.token, "session"):
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
            return self._call_page(viewer, request, call_id, error=str(exc), form=form, status=400)
        except (Forbidden, NotFound) as exc:
            return self._call_refused(viewer, request, exc)
        log.info("console: %s set the options of call %s", viewer.username, call_id)
        return _redirect(f"/console/calls/{call_id}?saved=1")

    def protect(self, request: Request, call_id: int) -> Response:
        """Whoever may listen to a call may protect its recording from retention deletion."""
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _redirect("/console/signin")
        if not csrf_ok(request, viewer.token, "session"):
            return _refused(403, "CSRF token missing or wrong")
        try:
            with self.system.database.session() as session:
                call = calloptions.call_for_editor(session, session.get(User, viewer.id), call_id)
                if call.recording is None or call.recording.state != "available":
                    raise NotFound("the call has no recording")
                recordings.protect_from_deletion(session, recording_id=call.recording.id, call_id=call.id)
        except (Forbidden, NotFound) as exc:
            return self._call_refused(viewer, request, exc)
        log.info("console: %s protected the recording of call %s", viewer.username, call_id)
        return _redirect(f"/console/calls/{call_id}")

    def _call_page(self, viewer: Viewer, request: Request, call_id: int, *, notice: Optional[str] = None,
                   error: Optional[str] = None, form: Optional[dict[str, str]] = None, status: int = 200) -> Response:
        try:
            with self.system.database.read_session() as session:
                call = calloptions.call_for_editor(session, session.get(User, viewer.id), call_id)
                details = views.call_details(call, viewer.zone)
        except (Forbidden, NotFound) as exc:
            return self._call_refused(viewer, request, exc)
        if form is None:
            form = {"reviewed": "1" if details["reviewed"] else "", "sales_status": details["sales_status"],
                    "journal": details["journal"]}
        return self._html("call.html", status=status, viewer=viewer, call=details, notice=notice, error=error,
                          form={**form, "reviewed": form["reviewed"] in CHECKED},
                          sales_statuses=calloptions.SALES_STATUSES, max_journal=calloptions.MAX_JOURNAL,
                          csrf=csrf_for(viewer.token, "session"), timezone=viewer.zone.key)

    def _call_refused(self, viewer: Viewer, request: Request, exc: CallsuiteError) -> Response:
        if isinstance(exc, Forbidden):
            return self._home(viewer, request, error="You may not see that call.", status=403)
        return self._home(viewer, request, error="No such call.", status=404)

    # --- audio and assets ----------------------------------------------------------------

    def recording(self, request: Request, reference: str) -> Response:
        viewer = self.sessions.viewer(request)
        if viewer is None:
            return _refused(401, "sign in to the console first")
        try:
            with self.system.database.read_session() as session:
                recording = recordings.recording_for_listener(session, session.get(User, viewer.id), reference)
            audio = open_audio(self.system.store, recording.file_path)
            if request.method == "GET":  # the page's player (a HEAD sends no audio)
                with self.system.database.session() as session:  # writes only when the audit log does
                    recordings.note_listening(session, recording, download=False)
        except Forbidden:
            return _refused(403, "you may not listen to that recording")
        except NotFound:
            return _refused(404, "no such recording")
        return send_mp3(request, audio, download_name=f"{reference}.mp3", last_modified=recording.available_at)

    def static(self, request: Request, name: str) -> Response:
        response = send_file(HERE / "static" / name, request.environ, mimetype=STATIC_FILES[name],
                             conditional=True, max_age=300)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- rendering -----------------------------------------------------------------------

    def _html(self, template: str, *, status: int = 200, **context) -> Response:
        body = _templates.get_template(template).render(**context)
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        response.headers.update(SECURITY_HEADERS)
        return response


def routes(system) -> list[Route]:
    from .agent import routes as web_agent_routes  # the web agent lives in its own module
    from .callbacks import CallbacksPage
    console = Console(system)
    return console.routes() + CallbacksPage(console).routes() + web_agent_routes(system)
