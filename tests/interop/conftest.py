"""What the interop modules share: the SOAP services under test and the calls the call-data
service is asked about.

Each client module (PHP SoapClient, gSOAP, suds, zeep) checks every service through the
module-scoped ``service`` fixture, parametrized by service name, so one module is one
running server and (for gSOAP) one build per service. A test that only makes sense for
one service narrows it with ``@pytest.mark.parametrize("service", [name], indirect=True)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import Call

UTC = timezone.utc


@dataclass(frozen=True)
class FaultCase:
    """A deterministic call the server refuses: `reason` is in the fault string, the
    SOAP 1.1 faultcode is `Client.<code>` and the SOAP 1.2 one Sender with subcode `code`."""
    operation: str
    args: dict
    reason: str
    code: str

    def soap11_code_ok(self, code: str) -> bool:
        """`soap11env:Client.NotFound` (any prefix) for a caller's mistake of kind `code`."""
        return code.rpartition(":")[2] == f"Client.{self.code}"


@dataclass(frozen=True)
class Service:
    name: str
    tns: str
    xsd: str                        # the authored schema in xsd/, answers validate against it
    wsdl_service: str               # <wsdl:service name=...>
    ports: dict                     # SOAP version -> <wsdl:port name=...>
    operations: tuple
    types: tuple                    # complex types and wrapper elements every toolkit must map
    prefix: str                     # the gSOAP typemap prefix bound to tns
    fault: FaultCase

    @property
    def path(self) -> str:
        return f"/soap/{self.name}"

    def address(self, live) -> str:
        return live.url(self.path)

    def wsdl_url(self, live) -> str:
        return live.url(self.path + "?wsdl")


# The demo site's Callbutton partner (demo/site.json): client code 8005551234, allowed from
# 127.0.0.1. A call is that client's when its DID is +18005551234.
PARTNER = {"username": "partner1", "password": "demo-partner-pw"}
CLIENT_CODE = "8005551234"
NOT_GRANTED_CODE = "8775559876"

SERVICES = {
    "recording": Service(
        name="recording", tns="urn:callsuite:recording:1", xsd="recording.xsd",
        wsdl_service="RecordingService",
        ports={"1.1": "RecordingServiceSoap", "1.2": "RecordingServiceSoap12"},
        operations=("AddLink", "PlayByPhone", "LinkRecording", "GetRecordingInfo", "RetrieveRecFile",
                    "SearchRecordings"),
        types=("AddLink", "RecordingInfo", "ArrayOfGap", "ActivityLink", "RecordingSearchResult",
               "ArrayOfCallRecord", "CallRecord"),
        prefix="rec",
        fault=FaultCase("AddLink", {"id": "x" * 201}, "longer than 200", "InvalidInput"),
    ),
    "calldata": Service(
        name="calldata", tns="urn:callsuite:calldata:1", xsd="calldata.xsd",
        wsdl_service="CallDataService",
        ports={"1.1": "CallDataServiceSoap", "1.2": "CallDataServiceSoap12"},
        operations=("GetCallDetails",),
        types=("GetCallDetails", "CallDetailsReport", "ArrayOfClient", "Client", "ArrayOfCall", "Call", "Address"),
        prefix="cd",
        fault=FaultCase("GetCallDetails", {**PARTNER, "password": "wrong-password", "clientCode": [CLIENT_CODE]},
                        "invalid username or password", "Unauthorized"),
    ),
    "callback": Service(
        name="callback", tns="urn:callsuite:callback:1", xsd="callback.xsd",
        wsdl_service="RequestCallbackService",
        ports={"1.1": "RequestCallbackServiceSoap", "1.2": "RequestCallbackServiceSoap12"},
        operations=("RequestCallWhenAvailable", "GetAvailableTimes", "GetNextThreeTimeSlots", "UpdateEWTRecord",
                    "GetEWTByServiceID", "RequestCallSchedule"),
        types=("RequestCallWhenAvailable", "ResponseMessage", "ArrayOfTimeSlot", "TimeSlot"),
        prefix="cb",
        fault=FaultCase("GetAvailableTimes", {"serviceQueue": 1, "company": 1, "password": "wrong-password",
                                              "requestedDate": "2030-01-07T09:00:00"},
                        "Authentication Failed", "Unauthorized"),
    ),
    "info": Service(
        name="info", tns="urn:callsuite:info:1", xsd="info.xsd",
        wsdl_service="BuzzMeInfo",
        ports={"1.1": "BuzzMeInfoSoap", "1.2": "BuzzMeInfoSoap12"},
        operations=("GetCallDataByNumber", "GetCallDataByPin"),
        types=("GetCallDataByPin", "CallData", "PinCallData"),
        prefix="info",
        fault=FaultCase("GetCallDataByPin", {"pin": "123456", "companyId": 1, "password": "wrong-password"},
                        "Authentication Failed", "Unauthorized"),
    ),
}


@pytest.fixture(scope="module", params=sorted(SERVICES))
def service(request) -> Service:
    return SERVICES[request.param]


# ---------------------------------------------------------------------------------------
# The call-data service's ledger: four calls through CTI ingest, three of them client
# code 8005551234's. The query asks for 2026-01-05 (UTC), which leaves out "yesterday".

CALLS = {
    # name: (CTI events, expected <Call> fields or None when the query must not return it)
    "yesterday": ([("call.started", "2026-01-04T23:59:00Z", {"did": "+18005551234", "ani": "+13125550199"})], None),
    # Every kind of element: text to escape (a CR included), ints, a nested Address whose
    # unknown parts are required empty elements, the demo site's campaign 3 (reported by its id).
    "answered": ([("call.started", "2026-01-05T15:00:00Z",
                   {"did": "+18005551234", "ani": "+13125550100", "target": "+16305550111", "extension": "201",
                    "campaign": 3, "other_data": "ref <7> & \"é\"\r\nline 2",
                    "caller_address": {"first_name": "Ann", "city": "Dallas", "state": "TX", "zip": "75201"}}),
                  ("call.answered", "2026-01-05T15:00:05Z", {}),
                  ("call.ended", "2026-01-05T15:02:10Z", {})],
                 {"StartTime": datetime(2026, 1, 5, 15, 0, tzinfo=UTC), "DID": "8005551234", "ANI": "3125550100",
                  "Target": "6305550111", "Duration": 130, "TalkTime": 125, "Result": "Connected",
                  "Campaign": "3", "OtherData": "ref <7> & \"é\"\r\nline 2", "ReviewedStatus": "Unreviewed",
                  "Address": ("Ann", "Dallas", "TX", "75201")}),
    # A caller outside the NANP: no 10-digit ANI, so the optional element is left out.
    "ringing": ([("call.started", "2026-01-05T16:30:00Z", {"did": "+18005551234", "ani": "+447700900123"})],
                {"StartTime": datetime(2026, 1, 5, 16, 30, tzinfo=UTC), "DID": "8005551234", "ANI": None,
                 "ReviewedStatus": "Unreviewed"}),
    # Another client's number: never in client code 8005551234's answer.
    "other": ([("call.started", "2026-01-05T15:30:00Z", {"did": "+18775559876", "ani": "+13125550100"})], None),
}
CHECKED_FIELDS = ("ID", "StartTime", "DID", "ANI", "Target", "Duration", "TalkTime", "Result", "Campaign", "OtherData",
                  "ReviewedStatus", "Address")


class CallData:
    """The calls made for a module's server, the query that finds them, and the check of an
    answer (each client first turns its own decoding into plain dicts and lists)."""

    start, end = "2026-01-05T00:00:00Z", "2026-01-05T23:59:59Z"

    def __init__(self, ids: dict) -> None:
        self.ids = ids
        self.expected = [{**fields, "ID": ids[name]} for name, (_, fields) in
                         sorted(CALLS.items(), key=lambda item: item[1][0][0][1]) if fields is not None]

    def query(self, *, datetimes: bool = False, **overrides) -> dict:
        """GetCallDetails arguments; the dates as xs:dateTime text, or as aware datetimes
        for the Python clients that write xs:dateTime themselves."""
        start, end = self.start, self.end
        if datetimes:
            start, end = _normalized("StartTime", start), _normalized("StartTime", end)
        return {**PARTNER, "clientCode": [CLIENT_CODE], "startDate": start, "endDate": end, "includeStatus": True,
                **overrides}

    def not_granted_query(self) -> tuple[dict, str]:
        """Two client codes, the second not the partner's: the fault names it, which proves
        the client sent clientCode (maxOccurs="unbounded") as two elements."""
        return self.query(clientCode=[CLIENT_CODE, NOT_GRANTED_CODE]), NOT_GRANTED_CODE

    def check(self, report: dict, *, client_address: str = "127.0.0.1") -> None:
        """report: {"Username", "ClientAddress", "Clients": [{"ClientCode", "Calls": [{field: value}]}]}
        with StartTime a datetime or an xs:dateTime string, Address a dict or an object; a
        missing key is an omitted element."""
        assert (report["Username"], report["ClientAddress"]) == (PARTNER["username"], client_address), report
        (client,) = report["Clients"]
        assert client["ClientCode"] == CLIENT_CODE
        calls = [{name: _normalized(name, call.get(name)) for name in CHECKED_FIELDS} for call in client["Calls"]]
        expected = [{name: call.get(name) for name in CHECKED_FIELDS} for call in self.expected]
        assert calls == expected
        for call in client["Calls"]:
            # DID as 10 digits, the Callbutton way (no +1)
            assert len(call["DID"]) == 10 and call["DID"].isdigit(), call


def _normalized(name: str, value: Any) -> Any:
    if name == "Address" and value is not None:
        # the known parts (the empty ones decode as "" or None, depending on the toolkit)
        part = (lambda key: value[key]) if isinstance(value, dict) else (lambda key: getattr(value, key))
        return tuple(part(key) for key in ("FirstName", "City", "State", "ZIP"))
    if name == "StartTime" and isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if name == "StartTime" and isinstance(value, datetime):
        assert value.tzinfo is not None, f"StartTime {value!r} without an offset (the schema says UTC)"
        return value.astimezone(UTC)
    return value


@pytest.fixture(scope="module")
def calldata(live) -> CallData:
    for name, (events, _) in CALLS.items():
        for kind, at, fields in events:
            r = live.cti({"event": kind, "call_id": f"interop-{name}", "at": at, **fields})
            assert r.status_code in (200, 201), r.text
    with live.db.session() as session:
        ids = {name: str(session.scalar(select(Call.id).where(Call.external_id == f"interop-{name}")))
               for name in CALLS}
    return CallData(ids)
