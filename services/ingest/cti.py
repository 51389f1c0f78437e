"""CTI ingest (CONTRACTS §9): a PBX or recorder posts call events and uploads audio.

POST /cti/v1/events                      JSON event, Bearer token
PUT  /cti/v1/calls/{call_id}/recording   audio/mpeg body
"""
from __future__ import annotations

import re
from datetime import datetime

from werkzeug.wrappers import Request, Response

from services.core import ledger
from services.core.errors import CallsuiteError
from services.core.security import constant_time_equals
from services.core.throttle import TooManyAttempts
from services.http.auth import bearer_token, signed_in
from services.http.errors import http_status
from services.http.jsonp import json_answer
from services.http.openapi import ERROR_OBJECT, JSON, MP3, Operation, obj, text
from services.http.routing import Route
from services.http.wsgi import MAX_JSON_BYTES, BadJson, parse_json
from storage.models import ID_MAX
from storage.recordings import NotMp3, RecordingTooLarge, is_mp3, probe_mp3

SOURCE = "cti"
_STRING_FIELDS = {"event", "call_id", "at", "extension", "direction", "ani", "did", "target", "dtmf", "result",
                  "info_digits", "index_number", "other_data"}
_EVENT_FIELDS = _STRING_FIELDS | {"campaign", "caller_address"}
_CAMPAIGN_ID = re.compile(r"[0-9]{1,19}")


_S = {"type": "string"}
_S_OR_NULL = {"type": ["string", "null"]}
_ERRORS = {status: {JSON: ERROR_OBJECT} for status in (400, 401, 404, 409, 413, 415, 422, 429, 503)}
_EVENT = obj({"event": {"type": "string", "enum": ["call.started", "call.answered", "call.ended",
                                                    "recording.paused", "recording.resumed"]},
              "call_id": _S, "at": {"type": "string", "format": "date-time"},
              **{name: _S_OR_NULL for name in ("extension", "ani", "did", "target", "dtmf", "result", "info_digits",
                                               "index_number", "other_data")},
              "direction": {"type": ["string", "null"], "enum": ["inbound", "outbound", None]},
              "campaign": {"type": ["integer", "string", "null"]},
              "caller_address": {"type": ["object", "null"]}}, ["event", "call_id", "at"])
_APPLIED = obj({"call_id": _S, "state": _S, "applied": {"type": "boolean"}, "reference": _S_OR_NULL},
               ["call_id", "state", "applied"])
POST_EVENT = Operation("CTI ingest: one call or recording event from a PBX", tag="CTI", body={JSON: _EVENT},
                       responses={200: {JSON: _APPLIED}, 201: {JSON: _APPLIED}, **_ERRORS}, security=("cti",))
PUT_RECORDING = Operation(
    "CTI ingest: a call's recording (MP3)", tag="CTI", body={MP3: {"type": "string", "format": "binary"}},
    responses={201: {JSON: obj({"reference": _S, "duration_s": {"type": ["number", "null"]},
                                "size_bytes": {"type": ["integer", "null"]}}, ["reference"])},
               **_ERRORS, 413: {JSON: ERROR_OBJECT, **text()}},
    security=("cti",))


def _error(status: int, message: str) -> Response:
    return json_answer({"error": message}, None, status)


def _domain_error(exc: CallsuiteError) -> Response:
    return _error(http_status(exc), str(exc))


class CtiIngest:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [
            Route("/cti/v1/events", self.post_event, methods=("POST",), max_body_bytes=MAX_JSON_BYTES,
                  api=(POST_EVENT,)),
            Route("/cti/v1/calls/<call_id>/recording", self.put_recording, methods=("PUT",),
                  max_body_bytes=self.system.settings.max_recording_bytes, api=(PUT_RECORDING,)),
        ]

    def _authorized(self, request: Request) -> Response | None:
        token = self.system.settings.cti_token
        if not token:
            return _error(503, "CTI ingest is disabled: set cti_token in the configuration")
        given = bearer_token(request.environ)
        if given is not None and constant_time_equals(given, token):
            signed_in(request.environ, "cti")
            return None
        # Only wrong tokens are counted and checked: a PBX with the right one never waits.
        throttle, database, address = self.system.throttle, self.system.database, request.remote_addr
        try:
            with database.session() as session:
                throttle.check(session, "cti", "", address)
                throttle.failed(session, "cti", "", address)
        except TooManyAttempts as exc:
            response = _error(429, str(exc))
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        response = _error(401, "a valid Bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="callsuite-cti"'
        return response

    def post_event(self, request: Request) -> Response:
        refused = self._authorized(request)
        if refused:
            return refused
        if request.mimetype != "application/json":
            return _error(415, "send the event as application/json")
        try:
            document = parse_json(request.get_data(cache=False) or b"null")
        except BadJson as exc:
            return _error(400, str(exc))
        if not isinstance(document, dict):
            return _error(400, "the event must be a JSON object")
        unknown = set(document) - _EVENT_FIELDS
        if unknown:
            return _error(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        for name in ("event", "call_id", "at"):
            if not isinstance(document.get(name), str) or not document[name]:
                return _error(400, f"{name!r} is required and must be a string")
        for name in _STRING_FIELDS - {"event", "call_id", "at"}:
            if document.get(name) is not None and not isinstance(document[name], str):
                return _error(400, f"{name!r} must be a string")
        campaign = _campaign_id(document.get("campaign"))
        if campaign is False:
            return _error(400, "'campaign' must be a campaign id (an integer, or an integer written as a string)")
        address = document.get("caller_address")
        if address is not None and not isinstance(address, dict):
            return _error(400, "'caller_address' must be an object")
        try:
            at = datetime.fromisoformat(document["at"].replace("Z", "+00:00"))
        except ValueError:
            return _error(400, "'at' must be an ISO 8601 date-time")
        try:
            event = ledger.CallEvent(
                kind=document["event"], source=SOURCE, external_id=document["call_id"], at=at,
                extension=document.get("extension"), direction=document.get("direction"),
                ani=document.get("ani"), did=document.get("did"), target=document.get("target"),
                dtmf=document.get("dtmf"), result=document.get("result"), campaign_id=campaign,
                info_digits=document.get("info_digits"), index_number=document.get("index_number"),
                other_data=document.get("other_data"), caller_address=address)
            with self.system.database.unit() as session:
                outcome = ledger.apply_event(session, event, default_region=self.system.settings.default_region)
            body = {"call_id": event.external_id, "state": outcome.state, "applied": outcome.changed,
                    "reference": outcome.reference}
        except CallsuiteError as exc:
            return _domain_error(exc)
        return json_answer(body, None, 201 if outcome.changed and event.kind == "call.started" else 200)

    def put_recording(self, request: Request, call_id: str) -> Response:
        refused = self._authorized(request)
        if refused:
            return refused
        if request.mimetype != "audio/mpeg":
            return _error(415, "upload the recording as audio/mpeg")
        with self.system.database.session() as session:
            call = ledger.find_call(session, SOURCE, call_id)
            if call is None:
                return _error(404, f"unknown call {call_id!r}")
            started_at = call.started_at
        stream = request.stream
        head = stream.read(10)
        if not is_mp3(head):
            return _error(422, "the upload is not an MP3 file")
        store = self.system.store
        try:
            relpath = store.put(started_at, _Prefixed(head, stream), max_bytes=self.system.settings.max_recording_bytes)
        except RecordingTooLarge as exc:
            return _error(413, str(exc))
        try:
            info = probe_mp3(store.path_of(relpath))
        except NotMp3:
            store.delete(relpath)
            return _error(422, "the upload is not a readable MP3 file")
        try:
            with self.system.database.session() as session:
                call = ledger.find_call(session, SOURCE, call_id)
                previous = call.recording.file_path if call.recording else None
                recording = ledger.attach_audio(session, call, file_path=relpath,
                                                size_bytes=store.size(relpath), duration_s=info.duration_s)
                body = {"reference": recording.reference, "duration_s": recording.duration_s,
                        "size_bytes": recording.size_bytes}
        except Exception:
            store.delete(relpath)
            raise
        if previous and previous != relpath:
            store.delete(previous)  # a re-upload replaces the audio
        return json_answer(body, None, 201)


def _campaign_id(value):
    """A campaign id as a PBX sends it: 3 or "3". None when absent, False when not an id."""
    if value is None:
        return None
    if isinstance(value, str) and _CAMPAIGN_ID.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
        return False
    return value


class _Prefixed:
    """A stream with its first bytes already read (to sniff the format) put back in front."""

    def __init__(self, head: bytes, stream) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size is None or size < 0:
                return head + self._stream.read()
            return head + self._stream.read(max(0, size - len(head)))
        return self._stream.read(size)


def routes(system) -> list[Route]:
    return CtiIngest(system).routes()
