"""blueButler's own URLs (seed 000), exactly as the BMS calls them:

GET /bluebutler/service/AddLink/id={id}?type=&data1..data5=&host=&activeCall=
GET /bluebutler/service/MP3/{refNum}
GET /bluebutler/service/PlayByPhone/{refNum}/{phone_number}
"""
from __future__ import annotations

import logging

from werkzeug.wrappers import Request, Response

from services.core import linking, recordings
from services.core.errors import CallsuiteError, Forbidden, NotFound, Unauthorized
from services.core.throttle import TooManyAttempts
from services.http.auth import challenge, listener, listener_reading, retry_after
from services.http.jsonp import json_answer
from services.http.media import open_audio, send_mp3
from services.http.openapi import CALLBACK, JS, JSON, MP3, TEXT, Operation, Param, obj, text
from services.http.routing import Route

from . import playback
from .wire import ERROR, PLAYBACK, link_answer

log = logging.getLogger(__name__)
REALM = "blueButler"


def refusal(exc: CallsuiteError) -> Response:
    """401 with the Basic challenge, or 429 with Retry-After after too many failures."""
    if isinstance(exc, TooManyAttempts):
        return Response(str(exc) + "\n", status=429, headers=retry_after(exc.retry_after_s),
                        content_type="text/plain; charset=utf-8")
    return Response("", status=401, headers=challenge(REALM))


def string_answer(request: Request, value: str | None) -> Response:
    """The seed's plain string; `format=json` gives {"d": ...}; `callback=` gives JSONP."""
    args = {k.lower(): v for k, v in request.args.items()}
    callback = args.get("callback")
    if callback is not None or args.get("format", "").lower() == "json":
        return json_answer({"d": value}, callback)
    return Response(value or "", content_type="text/plain; charset=utf-8")


# The seed's plain string, {"d": ...} with format=json, or JSONP with callback=.
STRING_ANSWER = {TEXT: {"type": "string"}, JSON: obj({"d": {"type": ["string", "null"]}}, ["d"]),
                 JS: {"type": "string"}}
STRING_PARAMS = (Param("format", schema={"type": "string", "enum": ["json", "JSON", "text"]},
                       description="json: answer {\"d\": ...}"),
                 Param("callback", schema=CALLBACK, description="answer as JSONP"))
REFUSALS = {401: text(), 429: text()}
AUDIO = {MP3: {"type": "string", "format": "binary"}}

ADD_LINK = Operation(
    "AddLink: link a BMS activity to the active call of a workstation (seed 000)", tag="blueButler",
    params=(Param("type"), *(Param(f"data{i}") for i in range(1, 6)),
            Param("host", description="the workstation (host name or address); default: the client's address"),
            Param("activeCall", schema={"type": "string", "enum": ["true", "false", "TRUE", "FALSE"]},
                  description="link to the call in progress now (default false: stored as pending)"),
            *STRING_PARAMS),
    responses={200: STRING_ANSWER, 400: text()},
    description="Answers the reference number, `No Active Call`, an empty body (pending) or `Error`.")
MP3_OPERATION = Operation(
    "MP3: stream or download a recording (Range requests answered 206)", tag="blueButler",
    params=(Param("Range", "header", description="one byte range, e.g. bytes=0-1023"),),
    responses={200: AUDIO, 206: AUDIO, 304: {}, 401: text(), 403: text(), 404: text(), 416: text(), 429: text()},
    security=("listener",))
PLAY_BY_PHONE = Operation(
    "PlayByPhone: play a recording down a phone line", tag="blueButler", params=STRING_PARAMS,
    responses={200: STRING_ANSWER, 400: text(), **REFUSALS}, security=("listener",),
    description="Answers `TRUE`, `FALSE` or `ERROR: No Playback Channels`.")


class BlueButler:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [
            # path: an activity id may hold "/" (sent as %2F, which werkzeug decodes before routing)
            Route("/bluebutler/service/AddLink/id=<path:activity_id>", self.add_link, api=(ADD_LINK,)),
            Route("/bluebutler/service/MP3/<reference>", self.mp3, api=(MP3_OPERATION,)),
            Route("/bluebutler/service/PlayByPhone/<reference>/<phone>", self.play_by_phone, api=(PLAY_BY_PHONE,)),
        ]

    def add_link(self, request: Request, activity_id: str) -> Response:
        if request.method == "HEAD":
            return string_answer(request, "")  # a HEAD (link checkers, prefetchers) must not store a link
        args = {k.lower(): v for k, v in request.args.items()}
        try:
            link = linking.AddLinkRequest(
                activity_id=activity_id, bms_type=args.get("type"),
                data=tuple(args.get(f"data{i}") for i in range(1, 6)), host=args.get("host") or None,
                client_address=request.remote_addr,
                active_call=linking.parse_bool(args.get("activecall"), "activeCall"))
            with self.system.database.unit() as unit:
                value = link_answer(*linking.add_link(unit, link))
        except CallsuiteError as exc:
            log.info("AddLink %r refused: %s", activity_id, exc)
            value = ERROR
        return string_answer(request, value)

    def mp3(self, request: Request, reference: str) -> Response:
        try:
            user, found = listener_reading(self.system, request.environ,
                                           lambda session: recordings.playable(session, reference))
            recording = recordings.listenable(user, found, reference)
            audio = open_audio(self.system.store, recording.file_path)
            if request.method == "GET":  # a HEAD sends no audio
                # A player asks for ranges; a request for the whole file is a download. A
                # write transaction only if the audit log writes (a play is logged once a minute).
                with self.system.database.unit() as unit:
                    recordings.note_listening(unit, recording, download="HTTP_RANGE" not in request.environ)
        except (Unauthorized, TooManyAttempts) as exc:
            return refusal(exc)
        except Forbidden:
            return Response("", status=403)
        except NotFound:
            return Response("", status=404)  # the seed's NULL
        return send_mp3(request, audio, download_name=f"{reference}.mp3", last_modified=recording.available_at)

    def play_by_phone(self, request: Request, reference: str, phone: str) -> Response:
        # Playing a recording down a phone line is listening to it: the same rights apply,
        # and nobody unauthenticated can make the server dial out.
        try:
            user = listener(self.system, request.environ)
        except (Unauthorized, TooManyAttempts) as exc:
            return refusal(exc)
        return string_answer(request, PLAYBACK[playback.play_by_phone(self.system, user, reference, phone)])
