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
from services.core.vocabulary import PlaybackOutcome
from services.http.auth import challenge, listener, retry_after
from services.http.jsonp import json_answer
from services.http.media import send_mp3
from services.http.routing import Route

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


class BlueButler:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [
            # path: an activity id may hold "/" (sent as %2F, which werkzeug decodes before routing)
            Route("/bluebutler/service/AddLink/id=<path:activity_id>", self.add_link),
            Route("/bluebutler/service/MP3/<reference>", self.mp3),
            Route("/bluebutler/service/PlayByPhone/<reference>/<phone>", self.play_by_phone),
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
            with self.system.database.session() as session:
                value = link_answer(*linking.add_link(session, link))
        except CallsuiteError as exc:
            log.info("AddLink %r refused: %s", activity_id, exc)
            value = ERROR
        return string_answer(request, value)

    def mp3(self, request: Request, reference: str) -> Response:
        try:
            user = listener(self.system, request.environ)
            # A read transaction: a download never queues behind writers (SQLite's writer lock).
            with self.system.database.read_session() as session:
                recording = recordings.recording_for_listener(session, user, reference)
                path = self.system.store.path_of(recording.file_path)
                modified = recording.available_at
            if not path.is_file():
                raise NotFound("the recording file is missing")
        except (Unauthorized, TooManyAttempts) as exc:
            return refusal(exc)
        except Forbidden:
            return Response("", status=403)
        except NotFound:
            return Response("", status=404)  # the seed's NULL
        return send_mp3(request, path, download_name=f"{reference}.mp3", last_modified=modified)

    def play_by_phone(self, request: Request, reference: str, phone: str) -> Response:
        # Playing a recording down a phone line is listening to it: the same rights apply,
        # and nobody unauthenticated can make the server dial out.
        try:
            user = listener(self.system, request.environ)
            with self.system.database.read_session() as session:
                audio = recordings.playback_audio(session, self.system.store, user, reference)
        except (Unauthorized, TooManyAttempts) as exc:
            return refusal(exc)
        except (Forbidden, NotFound):
            return string_answer(request, PLAYBACK[PlaybackOutcome.FAILED])
        return string_answer(request, PLAYBACK[recordings.play_by_phone(
            self.system.switch, audio, phone, self.system.settings.default_region)])
