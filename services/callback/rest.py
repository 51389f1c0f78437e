"""The seed's REST binding: POST /RequestCallbackService/Service.svc/rest/{Operation} with
the parameters as one JSON object (WCF webHttp, wrapped request), answered bare (the
ResponseMessage object, the TimeSlot array, true/false, or the EWT number).

As the seed's examples send them, numbers may be strings (`"serviceQueue":"1"`), missing
parameters are NULL, and the seed's aliases are accepted: GetNextThreeTimeSlots takes
`time` or `requestedDate`, GetEWTByServiceID `serviceQueueID` or `serviceQueue` and
`companyID` or `company`. Dates are `yyyy-MM-dd HH:mm:ss` in the company's zone.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from werkzeug.wrappers import Request, Response

from services.core import callbacks
from services.core.errors import InvalidInput
from services.http.jsonp import json_answer
from services.http.openapi import JSON, Operation, array, obj, text
from services.http.routing import Route
from services.http.wsgi import BadJson, parse_json

from . import wire

PREFIX = "/RequestCallbackService/Service.svc/rest"
# Parameters refused as "Authentication Failed" on the array operations: the seed has no
# result code there. 401 needs a challenge; this names the scheme: the body's password.
CHALLENGE = ("WWW-Authenticate", 'Buzzeasy realm="RequestCallbackService"')


INT_MIN, INT_MAX = -2 ** 31, 2 ** 31 - 1
# Run with prepared statements only: in a statement unit, no ORM session.
STATEMENTS_ONLY = frozenset({"GetEWTByServiceID", "GetAvailableTimes", "GetNextThreeTimeSlots"})  # reads
STATEMENT_WRITES = frozenset({"RequestCallWhenAvailable", "UpdateEWTRecord"})


class BadArgument(ValueError):
    pass


def _value(args: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if args.get(name) is not None:
            return args[name]
    return None


def _int(args: Mapping[str, Any], *names: str) -> Optional[int]:
    value = _value(args, *names)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadArgument(f"{names[0]} must be a whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadArgument(f"{names[0]} must be a whole number") from None
    if not INT_MIN <= number <= INT_MAX:  # the seed's int: 32 bits, as xs:int on SOAP
        raise BadArgument(f"{names[0]} is out of range")
    return number


def _str(args: Mapping[str, Any], name: str) -> Optional[str]:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise BadArgument(f"{name} must be a string")
    return str(value)


def _date(args: Mapping[str, Any], *names: str):
    value = _value(args, *names)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadArgument(f"{names[0]} must be a date in the form yyyy-MM-dd HH:mm:ss")
    try:
        return wire.parse_request_date(value)
    except ValueError as exc:
        raise BadArgument(f"{names[0]}: {exc}") from None


def _new_request(args: Mapping[str, Any]) -> callbacks.NewRequest:
    return callbacks.NewRequest(_str(args, "name"), _str(args, "phoneNo"), _int(args, "serviceQueue"),
                                _str(args, "region"), {f: _str(args, f) for f in callbacks.FIELDS})


# The OpenAPI description of the six operations (numbers may also arrive as strings).
_NUMBER = {"type": ["integer", "string"]}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_DATE = {"type": "string", "description": "yyyy-MM-dd HH:mm:ss, the company's zone", "example": "2026-12-02 09:30:00"}
_COMPANY = {"company": _NUMBER, "password": _TEXT_OR_NULL}
_NEW_REQUEST = {**_COMPANY, "name": _TEXT_OR_NULL, "phoneNo": _TEXT_OR_NULL, "serviceQueue": _NUMBER,
                "region": _TEXT_OR_NULL, **{f: _TEXT_OR_NULL for f in callbacks.FIELDS}}
_RESPONSE_MESSAGE = obj({"ConfirmationCode": {"type": "string"}, "ResultCode": {"type": "integer"}},
                        ["ConfirmationCode", "ResultCode"])
_SLOTS = array(obj({"TimeSlotID": {"type": "integer"}, "TimeFrom": {"type": "string"}, "TimeTo": {"type": "string"},
                    "Available": {"type": "boolean"}}, ["TimeSlotID", "TimeFrom", "TimeTo"]))
_REST_OPERATIONS = {
    "RequestCallWhenAvailable": (_NEW_REQUEST, _RESPONSE_MESSAGE),
    "RequestCallSchedule": ({**_NEW_REQUEST, "timeslot": _NUMBER, "date": _DATE}, _RESPONSE_MESSAGE),
    "GetAvailableTimes": ({**_COMPANY, "serviceQueue": _NUMBER, "requestedDate": _DATE}, _SLOTS),
    "GetNextThreeTimeSlots": ({**_COMPANY, "serviceQueue": _NUMBER, "time": _DATE, "requestedDate": _DATE}, _SLOTS),
    "UpdateEWTRecord": ({**_COMPANY, "serviceQueue": _NUMBER, "ewt": _NUMBER}, {"type": "boolean"}),
    "GetEWTByServiceID": ({"companyID": _NUMBER, "company": _NUMBER, "password": _TEXT_OR_NULL,
                           "serviceQueueID": _NUMBER, "serviceQueue": _NUMBER}, {"type": "integer"}),
}
API = tuple(Operation(f"{name} (seed 001's REST binding: one JSON object in, the bare answer out)",
                      path=f"{PREFIX}/{name}", tag="Buzzeasy", body={JSON: obj(fields)}, body_required=False,
                      responses={200: {JSON: answer}, 400: text(), 401: {JSON: {"type": "string"}}, 413: text()},
                      description="The company's password is a field of the body.")
            for name, (fields, answer) in _REST_OPERATIONS.items())


class CallbackRest:
    def __init__(self, system) -> None:
        self.system = system
        self.operations: dict[str, Callable[[Any, Mapping[str, Any], callbacks.Caller], Any]] = {
            "RequestCallWhenAvailable": self.request_call_when_available,
            "GetAvailableTimes": self.get_available_times,
            "GetNextThreeTimeSlots": self.get_next_three_time_slots,
            "UpdateEWTRecord": self.update_ewt_record,
            "GetEWTByServiceID": self.get_ewt_by_service_id,
            "RequestCallSchedule": self.request_call_schedule,
        }

    def routes(self) -> list[Route]:
        return [Route(PREFIX + "/<operation>", self.handle, methods=("POST",), api=API)]

    def handle(self, request: Request, operation: str) -> Response:
        handler = self.operations.get(operation)
        if handler is None:
            return Response(f"no operation {operation!r}\n", status=404, content_type="text/plain; charset=utf-8")
        try:
            args = parse_json(request.get_data(cache=False) or b"{}")
        except BadJson as exc:  # malformed, nested too deep, or a number out of range
            return _bad(f"the body must be a JSON object ({exc})")
        if not isinstance(args, dict):
            return _bad("the body must be a JSON object")
        company = "companyID" if operation == "GetEWTByServiceID" else "company"
        try:
            caller = wire.caller(self.system, _int(args, company, "company"), _str(args, "password"),
                                 request.remote_addr)
            database = self.system.database
            with (database.read_unit() if operation in STATEMENTS_ONLY
                  else database.unit() if operation in STATEMENT_WRITES else database.session()) as unit:
                result = handler(unit, args, caller)
        except (BadArgument, InvalidInput) as exc:
            return _bad(str(exc))
        except callbacks.AuthenticationFailed as exc:
            response = json_answer(str(exc), None, 401)
            response.headers[CHALLENGE[0]] = CHALLENGE[1]
            return response
        return json_answer(result, None)

    # -- the six operations: bare answers ------------------------------------------------

    def request_call_when_available(self, unit, args, caller):
        return wire.response_message(callbacks.request_call_when_available(
            unit, caller, _new_request(args), telephony_available=wire.telephony_available(self.system)))

    def request_call_schedule(self, unit, args, caller):
        return wire.response_message(callbacks.request_call_schedule(
            unit, caller, _new_request(args), timeslot_id=_int(args, "timeslot"), when=_date(args, "date"),
            telephony_available=wire.telephony_available(self.system)))

    def get_available_times(self, unit, args, caller):
        after = _required_date(args, "requestedDate")
        return [wire.time_slot(s) for s in callbacks.available_times(unit, caller, _int(args, "serviceQueue"), after)]

    def get_next_three_time_slots(self, unit, args, caller):
        after = _required_date(args, "time", "requestedDate")
        return [wire.time_slot(s)
                for s in callbacks.next_three_time_slots(unit, caller, _int(args, "serviceQueue"), after)]

    def update_ewt_record(self, unit, args, caller):
        return callbacks.update_ewt(unit, caller, _int(args, "serviceQueue"), _int(args, "ewt"))

    def get_ewt_by_service_id(self, unit, args, caller):
        return callbacks.ewt_of(unit, caller, _int(args, "serviceQueueID", "serviceQueue"))


def _required_date(args, *names):
    value = _date(args, *names)
    if value is None:
        raise BadArgument(f"{names[0]} is required (yyyy-MM-dd HH:mm:ss)")
    return value


def _bad(reason: str) -> Response:
    return Response(reason + "\n", status=400, content_type="text/plain; charset=utf-8")
