"""The simulated switch's own API (CONTRACTS §9), mounted only when it is in use.

POST /sim/v1/calls                 start a call that runs in real time and is recorded
GET  /sim/v1/calls/{id}            its state and recording reference
POST /sim/v1/calls/{id}/pause      pause the recording (the paused audio is never written)
POST /sim/v1/calls/{id}/resume
POST /sim/v1/calls/{id}/hangup
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from werkzeug.wrappers import Request, Response

from services.core import ledger
from services.core.calldetails import address_allowed
from services.http.jsonp import json_answer
from services.http.openapi import ERROR_OBJECT, JSON, Operation, obj, text
from services.http.routing import Route
from services.http.wsgi import MAX_JSON_BYTES, parse_json
from services.telephony.driver import InvalidCallState, TelephonyError, UnknownCall

_MAX_DURATION_S = 4 * 3600


def _reply(status: int, body: Any) -> Response:
    return json_answer(body, None, status)


def _number(document: dict, name: str, default: float | None) -> float | None:
    value = document.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= _MAX_DURATION_S:
        raise ValueError(f"{name!r} must be a number of seconds from 0 to {_MAX_DURATION_S}")
    return float(value)


_S_OR_NULL = {"type": ["string", "null"]}
_CALL = obj({"call_id": {"type": "string"}, "reference": _S_OR_NULL, "state": _S_OR_NULL,
             "recording_state": _S_OR_NULL, "duration_s": {"type": ["number", "null"]}, "result": _S_OR_NULL,
             "switch_state": {"type": "string"}}, ["call_id", "reference", "state"])
_ERROR = {JSON: ERROR_OBJECT}
_SECONDS = {"type": ["number", "null"], "minimum": 0}
START_CALL = Operation(
    "The simulated switch: start a call that runs in real time and is recorded", tag="Simulated switch",
    body={JSON: obj({"extension": _S_OR_NULL, "ani": _S_OR_NULL, "did": _S_OR_NULL, "target": _S_OR_NULL,
                     "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                     "answer_after_s": _SECONDS, "duration_s": _SECONDS})},
    body_required=False,
    responses={201: {JSON: _CALL}, 400: _ERROR, 403: _ERROR, 413: text(), 503: _ERROR},
    description="Only for clients in sim_allowed_networks (loopback by default).")
GET_CALL = Operation("The simulated switch: a call's state and recording reference", tag="Simulated switch",
                     responses={200: {JSON: _CALL}, 403: _ERROR, 404: _ERROR})
ACT = Operation("The simulated switch: pause or resume a call's recording, or hang up", tag="Simulated switch",
                responses={200: {JSON: _CALL}, 403: _ERROR, 404: _ERROR, 409: _ERROR})


class SimulatedSwitchApi:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [
            Route("/sim/v1/calls", self._local(self.start_call), methods=("POST",), max_body_bytes=MAX_JSON_BYTES,
                  api=(START_CALL,)),
            Route("/sim/v1/calls/<call_id>", self._local(self.get_call), api=(GET_CALL,)),
            Route("/sim/v1/calls/<call_id>/<any(pause,resume,hangup):action>", self._local(self.act),
                  methods=("POST",), api=(ACT,)),
        ]

    def _local(self, handler):
        """Anyone reaching the API can place, end and read calls, which then show in the
        partners' reports: only clients in sim_allowed_networks (loopback by default)."""
        def guarded(request: Request, **values) -> Response:
            if not address_allowed(self.system.settings.sim_allowed_networks, request.remote_addr):
                return _reply(403, {"error": "the simulated switch API answers only clients in "
                                             "sim_allowed_networks (loopback by default)"})
            return handler(request, **values)

        return guarded

    def start_call(self, request: Request) -> Response:
        try:
            document = parse_json(request.get_data(cache=False) or b"{}")
            if not isinstance(document, dict):
                raise ValueError("the body must be a JSON object")
            direction = document.get("direction", "inbound")
            if direction not in ("inbound", "outbound"):
                raise ValueError("direction must be 'inbound' or 'outbound'")
            for name in ("extension", "ani", "did", "target"):
                if document.get(name) is not None and (not isinstance(document[name], str) or len(document[name]) > 32):
                    raise ValueError(f"{name!r} must be a string of at most 32 characters")
            answer_after = _number(document, "answer_after_s", 0.0)
            duration = _number(document, "duration_s", None)
        except ValueError as exc:
            return _reply(400, {"error": str(exc)})
        number = document.get("did") if direction == "inbound" else (document.get("target") or document.get("did"))
        try:
            call_id = self.system.switch.place_call(
                extension=document.get("extension"), number=number, direction=direction,
                ani=document.get("ani"), did=document.get("did"),
                answer_after_s=answer_after, duration_s=duration)
        except TelephonyError as exc:
            return _reply(503, {"error": str(exc)})
        return _reply(201, self._describe(call_id))

    def _describe(self, call_id: str) -> dict:
        with self.system.database.session() as session:
            call = ledger.find_call(session, "sim", call_id)
            body = {"call_id": call_id, "reference": None, "state": None}
            if call is not None:
                body.update(reference=call.recording.reference if call.recording else None, state=call.state,
                            recording_state=call.recording.state if call.recording else None,
                            duration_s=call.duration_s, result=call.result)
        snapshot = self.system.switch.call(call_id)
        if snapshot is not None:
            body["switch_state"] = snapshot.state
        return body

    def get_call(self, request: Request, call_id: str) -> Response:
        body = self._describe(call_id)
        if body["state"] is None and body.get("switch_state") is None:
            return _reply(404, {"error": f"unknown call {call_id!r}"})
        return _reply(200, body)

    def act(self, request: Request, call_id: str, action: str) -> Response:
        switch = self.system.switch
        operation = {"pause": switch.pause_recording, "resume": switch.resume_recording,
                     "hangup": switch.hangup}[action]
        with self.system.database.read_session() as session:
            known = ledger.find_call(session, "sim", call_id)
            ledger_id = known.id if known is not None else None
        try:
            # A pause or resume is reported from the switch's thread: credit it to this request.
            with self.system.audit.claim(ledger_id) if ledger_id is not None else nullcontext():
                operation(call_id)
        except UnknownCall:
            return _reply(404, {"error": f"unknown call {call_id!r}"})
        except InvalidCallState as exc:
            return _reply(409, {"error": str(exc)})
        return _reply(200, self._describe(call_id))


def routes(system) -> list[Route]:
    return SimulatedSwitchApi(system).routes()
