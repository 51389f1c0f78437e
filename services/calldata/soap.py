"""The call-data service over SOAP 1.1/1.2 and GET/JSON(P): the Callbutton query
(services/core/calldetails.py) for clients that want a WSDL.

Credentials are the request's ``username`` and ``password`` (see xsd/calldata.xsd for
why), checked with the caller's address against the partner's allow-list exactly as the
XML service does. Faults: Client.Unauthorized (wrong credentials), Client.Forbidden
(address not allowed, client code not granted), Client.InvalidInput (bad dates, too many
calls). A SOAP answer is built in memory, so it is capped at MAX_CALLS calls; the XML
service streams any number.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from spyne import Boolean, DateTime, ServiceBase, Unicode, rpc

from services.core import calldetails
from services.core.calldetails import ReportCall, RequestedClient
from services.core.errors import InvalidInput
from services.http.wsgi import base_url
from services.soap.access import BODY_CREDENTIALS
from services.soap.faults import soap_operation
from services.soap.types import optional, required

from .access import authenticate_partner
from .central_time import from_central
from .refusal import ReportRequestError
from .render import ten_digits, voice_directory_url, xml_text
from .types import Address, Call, CallDetailsReport, Client

MAX_CALLS = 10_000


def _text(value) -> Optional[str]:
    # The XML writer's filter (characters XML 1.0 cannot carry are dropped); empty -> omitted.
    return xml_text(value) or None


def _utc(value: Optional[datetime], field: str) -> Optional[datetime]:
    """xs:dateTime with an offset is that instant; without one, US Central Time."""
    if value is None:
        return None
    try:
        return from_central(value, field)
    except ReportRequestError as exc:
        raise InvalidInput(exc.message) from None


def _digits(e164: Optional[str]) -> Optional[str]:
    return ten_digits(e164) or None


def _seconds(value) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else None


def soap_call(call: ReportCall, include_status: bool, public_base_url: str) -> Call:
    address = None
    a = call.address
    if a is not None:
        address = Address(FirstName=_text(a.first_name) or "", MiddleInitial=_text(a.middle_initial) or "",
                          LastName=_text(a.last_name) or "", StreetAddress=_text(a.street_address) or "",
                          SecondaryAddress=_text(a.secondary_address) or "", City=_text(a.city) or "",
                          State=_text(a.state) or "", ZIP=_text(a.zip) or "", ZIP4=_text(a.zip4) or "")
    return Call(
        ID=call.call_id, StartTime=call.start_time, Campaign=_text(call.campaign),
        DID=_digits(call.did), ANI=_digits(call.ani), OtherData=_text(call.other_data),
        InfoDigits=_text(call.info_digits), Target=_digits(call.target), Result=_text(call.result),
        Duration=_seconds(call.duration), TalkTime=_seconds(call.talk_time),
        IndexNumber=_text(call.index_number),
        VoiceDirectory=voice_directory_url(public_base_url, call.call_id) if call.recorded else None,
        Address=address,
        ReviewedStatus=("Reviewed" if call.reviewed else "Unreviewed") if include_status else None,
        DTMF=_text(call.dtmf),
        SalesStatus=_text(call.sales_status) if include_status else None,
        Journal=_text(call.journal) if include_status else None,
    )


def _environ(ctx) -> dict:
    return getattr(ctx.transport, "req_env", None) or {}


class CallDataService(ServiceBase):
    @rpc(required(Unicode), required(Unicode), Unicode.customize(min_occurs=1, max_occurs="unbounded", nillable=False),
         optional(DateTime), optional(DateTime), optional(Boolean),
         _args=("username", "password", "clientCode", "startDate", "endDate", "includeStatus"),
         _returns=required(CallDetailsReport))
    @soap_operation(access=BODY_CREDENTIALS)
    def GetCallDetails(ctx, username, password, clientCode, startDate, endDate, includeStatus):
        system = ctx.udc
        environ = _environ(ctx)
        client_ip = environ.get("REMOTE_ADDR") or ""
        database = system.database
        partner = authenticate_partner(system, username, password, client_ip)
        codes = [c.strip() for c in (clientCode or []) if c is not None and c.strip()]
        if not codes:
            raise InvalidInput("at least one clientCode is required")
        start, end = _utc(startDate, "startDate"), _utc(endDate, "endDate")
        if start is not None and end is not None and end < start:
            raise InvalidInput("Date range not valid: endDate is before startDate")
        flag = bool(includeStatus)
        with database.read_unit() as unit:
            clients = calldetails.resolve_clients(unit, partner, [RequestedClient(c, flag) for c in codes],
                                                  all_clients=codes[0] == calldetails.ALL)
        public = base_url(environ) if environ else ""
        total = 0
        result = []
        for client in clients:
            calls = []
            for call in calldetails.iter_calls(database, client.code, start, end):
                total += 1
                if total > MAX_CALLS:
                    raise InvalidInput(f"more than {MAX_CALLS} calls in this range: narrow the date range, or use "
                                       f"POST /cb/main/jsp/xml/xml.jsp, which streams any number of calls")
                calls.append(soap_call(call, flag, public))
            result.append(Client(ClientCode=client.code, Calls=calls))
        return CallDetailsReport(Username=partner.username, ClientAddress=client_ip, Clients=result)
