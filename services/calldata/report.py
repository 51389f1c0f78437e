"""Callbutton Data XML Services (seed 002): the request parser and the report writers.

Pure functions: no Spyne, WSGI or SQLAlchemy. The HTTP edge (POST /cb/main/jsp/xml/xml.jsp)
authenticates the partner, calls :func:`parse_request`, reads the ledger and streams
:func:`iter_report`; on any failure it answers :func:`error_document`.

Wire format, exactly as the seed writes it (see xsd/callbutton.xsd, the source of truth):
dates ``MM/DD/YYYY HH:MM:SS`` (24 h) in US Central Time; DID, ANI and Target as 10 digits
without ``+1``; the failure element spelled ``GetCallDetailResponse`` (no "s").

Time zone decisions (America/Chicago through ``zoneinfo``, daylight saving applied):

* Parsing a request date whose wall time occurs twice (the fall-back hour, e.g.
  11/01/2026 01:30:00) takes the FIRST occurrence, i.e. ``fold=0``: Central Daylight Time
  (UTC-5). So 11/01/2026 01:30:00 means 06:30 UTC, never 07:30 UTC.
* Parsing a request date whose wall time does not exist (the spring-forward gap, e.g.
  03/08/2026 02:30:00) is refused with "Date range not valid: ..." rather than silently
  shifted by an hour; the partner asked for an instant that never happened.
* Rendering (``to_central``) is unambiguous from UTC: 2026-11-01 06:30 UTC and 07:30 UTC
  both render "11/01/2026 01:30:00" (the first CDT, the second CST), as the seed's format
  has no offset. A naive datetime given to ``to_central`` is taken as UTC (the ledger
  stores UTC; SQLite hands back naive values).

Values the schema restricts (Result, InfoDigits, SalesStatus, numbers, seconds) are rendered
as the empty string when the ledger holds something outside the schema's set, so every
document written validates; characters that XML 1.0 cannot carry are dropped.
"""
from __future__ import annotations

import io
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional
from urllib.parse import quote
from zoneinfo import ZoneInfo

import defusedxml
import defusedxml.ElementTree as SafeET
import xmlschema
from lxml import etree

from services.contracts import contracts_root
from services.core.calldetails import ReportAddress, ReportCall, RequestedClient

__all__ = [
    "CENTRAL",
    "DATE_FORMAT",
    "SCHEMA_PATH",
    "CallDetailsRequest",
    "ReportAddress",
    "ReportCall",
    "InvalidCallElement",
    "ReportRequestError",
    "RequestedClient",
    "build_report_in_memory",
    "call_validator",
    "error_document",
    "from_central",
    "get_schema",
    "iter_report",
    "parse_request",
    "ten_digits",
    "to_central",
    "voice_directory_url",
]

CENTRAL = ZoneInfo("America/Chicago")
DATE_FORMAT = "%m/%d/%Y %H:%M:%S"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_FLUSH_EVERY = 200  # calls per chunk yielded by iter_report
INDENT = "  "

_ALLOWED_RESULTS = frozenset({"Connected", "Busy", "No Answer", "Abandoned"})
_ALLOWED_INFO_DIGITS = frozenset({"p", "c"})
_ALLOWED_SALES = frozenset({"Called back", "Made sale"})
_NANP_E164 = re.compile(r"\+1([2-9][0-9]{2}[2-9][0-9]{6})")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_REASON = 300
# Bounds checked on the parsed tree before xmlschema sees it: its work grows with the
# attributes of one element faster than linearly (10,000 took 11 s). A real request is 4
# levels deep with one attribute per element and at most a few thousand client codes.
MAX_ELEMENTS = 10_000
MAX_ATTRIBUTES = 4
MAX_DEPTH = 12


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class CallDetailsRequest:
    clients: tuple[RequestedClient, ...]
    start: Optional[datetime]  # aware UTC, or None (null)
    end: Optional[datetime]  # aware UTC, or None (null: until now)
    all_clients: bool  # the first ClientCode is "*"


class ReportRequestError(ValueError):
    """A request that cannot be served; ``message`` is safe to send back in the
    GetCallDetailResponse (no traceback, no internal paths)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- schema


SCHEMA_PATH = contracts_root() / "xsd" / "callbutton.xsd"

_schemas: dict[str, xmlschema.XMLSchema10] = {}
_schemas_lock = threading.Lock()


def get_schema(path: Path | str | None = None) -> xmlschema.XMLSchema10:
    """The compiled Callbutton schema, loaded once per path (thread-safe)."""
    key = str(Path(path or SCHEMA_PATH).resolve())
    schema = _schemas.get(key)
    if schema is None:
        with _schemas_lock:
            schema = _schemas.get(key)
            if schema is None:
                # The XSD is our own authored file; no remote fetching is ever needed.
                schema = xmlschema.XMLSchema10(key, defuse="always", allow="local")
                _schemas[key] = schema
    return schema


# --------------------------------------------------------------------------- request


def _refuse(message: str) -> ReportRequestError:
    return ReportRequestError(message)


def _parse_central(text: str, field: str) -> datetime:
    """``MM/DD/YYYY HH:MM:SS`` Central Time -> aware UTC (see the module docstring)."""
    try:
        naive = datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        raise _refuse(f"Date range not valid: {field} {text!r} is not a valid date "
                      f"(expected MM/DD/YYYY HH:MM:SS)") from None
    return from_central(naive, field, text)


def from_central(naive: datetime, field: str = "date", text: Optional[str] = None) -> datetime:
    """A US Central Time wall-clock time -> aware UTC, with the rules of the module
    docstring (the repeated fall-back hour is its first occurrence, a time in the
    spring-forward gap is refused). An aware datetime is simply converted. ``field`` and
    ``text`` (the value as the client wrote it) only shape the error message."""
    if naive.tzinfo is not None:
        return naive.astimezone(timezone.utc)
    shown = text if text is not None else naive.strftime(DATE_FORMAT)
    # fold=0: in the repeated fall-back hour take the first occurrence (CDT).
    local = naive.replace(tzinfo=CENTRAL, fold=0)
    try:
        utc = local.astimezone(timezone.utc)
        back = utc.astimezone(CENTRAL).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise _refuse(f"Date range not valid: {field} {shown!r} is out of range") from None
    if back != naive:
        # The wall time falls in the spring-forward gap: it never happened in Central Time.
        raise _refuse(f"Date range not valid: {field} {shown!r} does not exist in US Central "
                      f"Time (clocks skip that hour when daylight saving time starts)")
    return utc


def _check_shape(root: ET.Element) -> None:
    """Refuse documents too large in structure for schema validation to be cheap."""
    elements = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        elements += 1
        if elements > MAX_ELEMENTS:
            raise _refuse(f"Request refused: more than {MAX_ELEMENTS} elements")
        if depth > MAX_DEPTH:
            raise _refuse(f"Request refused: elements nested deeper than {MAX_DEPTH} levels")
        if len(element.attrib) > MAX_ATTRIBUTES:
            raise _refuse(f"Request refused: element {element.tag!r:.60} has more than {MAX_ATTRIBUTES} attributes")
        stack.extend((child, depth + 1) for child in element)


def parse_request(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  schema_path: Path | str | None = None) -> CallDetailsRequest:
    """Parse, validate and interpret a GetCallDetailsRequest document.

    Hostile-input safe: the size is checked first; the XML is parsed by expat through
    defusedxml with DOCTYPE, entity declarations and external references forbidden (no
    XXE, no billion laughs, no network, no local file read); then xmlschema validates the
    parsed tree against xsd/callbutton.xsd. Raises :class:`ReportRequestError`.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise _refuse("Request body must be XML bytes")
    if len(body) > max_bytes:
        raise _refuse(f"Request too large: {len(body)} bytes, the limit is {max_bytes} bytes")
    if not body.strip():
        raise _refuse("Request body is empty: expected a Callbutton GetCallDetailsRequest XML document")

    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except defusedxml.DTDForbidden:
        raise _refuse("Request refused: DOCTYPE declarations (and so entity declarations) "
                      "are not allowed") from None
    except defusedxml.EntitiesForbidden:
        raise _refuse("Request refused: entity declarations are not allowed") from None
    except defusedxml.ExternalReferenceForbidden:
        raise _refuse("Request refused: external references are not allowed") from None
    except defusedxml.DefusedXmlException:
        raise _refuse("Request refused: forbidden XML construct") from None
    except ET.ParseError as exc:
        raise _refuse(f"Request is not well-formed XML: {exc}") from None
    except (ValueError, LookupError, UnicodeError):
        raise _refuse("Request is not well-formed XML: unreadable encoding") from None

    _check_shape(root)
    error = next(get_schema(schema_path).iter_errors(root), None)
    if error is not None:
        reason = error.reason or error.message or "invalid document"
        if len(reason) > _MAX_REASON:
            reason = reason[:_MAX_REASON] + "..."
        where = f" (at {error.path})" if error.path else ""
        if error.path and error.path.rsplit("/", 1)[-1] in ("StartDate", "EndDate"):
            where += "; dates are MM/DD/YYYY HH:MM:SS, 24-hour, US Central Time, or empty"
        raise _refuse(f"Request does not validate against the Callbutton schema: {reason}{where}")

    # The schema lets <Callbutton> hold a request or a response; only a request is served.
    request = root.find("CallbuttonService/GetCallDetailsRequest")
    if request is None or root.find("Username") is not None:
        raise _refuse("Request does not validate against the Callbutton schema: expected "
                      "Callbutton/CallbuttonService/GetCallDetailsRequest without "
                      "Username/Authentication (this is a response document)")

    clients: list[RequestedClient] = []
    for index, element in enumerate(request.findall("ClientCode")):
        code = (element.text or "").strip()
        if code == "*" and index > 0:
            raise _refuse("ClientCode '*' (all clients) is only allowed as the first ClientCode")
        clients.append(RequestedClient(code=code, status=(element.get("status") or "").strip() == "true"))

    start_text = (request.findtext("StartDate") or "").strip()
    end_text = (request.findtext("EndDate") or "").strip()
    start = _parse_central(start_text, "StartDate") if start_text else None
    end = _parse_central(end_text, "EndDate") if end_text else None
    if start is not None and end is not None and end < start:
        raise _refuse(f"Date range not valid: EndDate {end_text!r} is before StartDate {start_text!r}")

    return CallDetailsRequest(clients=tuple(clients), start=start, end=end,
                              all_clients=clients[0].code == "*")


# --------------------------------------------------------------------------- rendering


def to_central(dt_utc: datetime) -> str:
    """An instant rendered as the seed's ``MM/DD/YYYY HH:MM:SS`` (24 h), US Central Time."""
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=timezone.utc)
    return dt_utc.astimezone(CENTRAL).strftime(DATE_FORMAT)


def ten_digits(e164: str | None) -> str:
    """North American E.164 ``+1NXXNXXXXXX`` -> its 10 digits; anything else -> ``""``."""
    if not e164:
        return ""
    match = _NANP_E164.fullmatch(e164.strip())
    return match.group(1) if match else ""


def voice_directory_url(public_base_url: str, call_id: str) -> str:
    """The seed's Event_CallRecordingURL (a trailing slash on the base is ignored)."""
    return (f"{public_base_url.rstrip('/')}/cb/main/jsp/mates/cBEventCallRecordingURL.jsp"
            f"?id={quote(str(call_id), safe='')}")


def _text(value: object) -> str:
    if value is None:
        return ""
    return _XML_INVALID.sub("", str(value))


def _member(value: Optional[str], allowed: frozenset[str]) -> str:
    value = (value or "").strip()
    return value if value in allowed else ""


def _seconds(value: Optional[int]) -> str:
    if value is None or isinstance(value, bool):
        return ""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return ""
    return str(number) if number >= 0 else ""


def _leaf(parent: etree._Element | None, tag: str, text: str) -> etree._Element:
    element = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
    if text:
        element.text = text
    return element


def _call_element(call: ReportCall, status_flag: bool, public_base_url: str,
                  level: int) -> etree._Element:
    """One <Call>, already indented for depth ``level`` (its own tail left unset)."""
    el = etree.Element("Call", ID=_text(call.call_id))
    _leaf(el, "StartTime", to_central(call.start_time))
    _leaf(el, "Campaign", _text(call.campaign))
    _leaf(el, "DID", ten_digits(call.did))
    _leaf(el, "ANI", ten_digits(call.ani))
    _leaf(el, "OtherData", _text(call.other_data))
    _leaf(el, "InfoDigits", _member(call.info_digits, _ALLOWED_INFO_DIGITS))
    _leaf(el, "Target", ten_digits(call.target))
    _leaf(el, "Result", _member(call.result, _ALLOWED_RESULTS))
    _leaf(el, "Duration", _seconds(call.duration))
    _leaf(el, "TalkTime", _seconds(call.talk_time))
    _leaf(el, "IndexNumber", _text(call.index_number))
    if call.recorded:
        _leaf(el, "VoiceDirectory", _text(voice_directory_url(public_base_url, call.call_id)))
    a = call.address
    if a is not None:
        address = etree.SubElement(el, "Address")
        for tag, value in (("FirstName", a.first_name), ("MiddleInitial", a.middle_initial),
                           ("LastName", a.last_name), ("StreetAddress", a.street_address),
                           ("SecondaryAddress", a.secondary_address), ("City", a.city),
                           ("State", a.state), ("ZIP", a.zip), ("ZIP4", a.zip4)):
            _leaf(address, tag, _text(value))
    if status_flag:
        _leaf(el, "ReviewedStatus", "Reviewed" if call.reviewed else "Unreviewed")
    _leaf(el, "DTMF", _text(call.dtmf))
    if status_flag:
        _leaf(el, "SalesStatus", _member(call.sales_status, _ALLOWED_SALES))
        _leaf(el, "Journal", _text(call.journal))
    etree.indent(el, space=INDENT, level=level)
    return el


def _nl(level: int) -> str:
    return "\n" + INDENT * level


# Depths of the success document, as etree.indent lays it out.
_L_ROOT, _L_SERVICE, _L_RESPONSE, _L_CLIENT, _L_CLIENT_CHILD, _L_CALL = 0, 1, 2, 3, 4, 5


def iter_report(username: str, client_ip: str,
                clients: Iterable[tuple[str, bool, Iterable[ReportCall]]],
                public_base_url: str, *, flush_every: int = DEFAULT_FLUSH_EVERY,
                validate_call: Optional[Callable[[etree._Element], None]] = None) -> Iterator[bytes]:
    """Stream the GetCallDetailsResponse document in chunks.

    ``validate_call``, when given, is called with every <Call> element before it is written
    (e.g. :func:`call_validator`); if it raises, the stream stops there.

    ``clients`` yields ``(client_code, status_flag, calls)``; both it and each ``calls`` are
    consumed lazily, one <Call> element at a time, through ``lxml.etree.xmlfile`` writing
    into an in-memory buffer that is emptied every ``flush_every`` calls, so memory stays
    bounded however many calls there are. The bytes are identical to
    :func:`build_report_in_memory` for the same input.
    """
    flush_every = max(1, int(flush_every))
    buf = io.BytesIO()

    def drain() -> bytes:
        data = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return data

    yield XML_DECLARATION
    with etree.xmlfile(buf, encoding="UTF-8") as xf:
        with xf.element("Callbutton", version="B"):
            xf.write(_nl(_L_ROOT + 1))
            xf.write(_leaf(None, "Username", _text(username)))
            xf.write(_nl(_L_ROOT + 1))
            xf.write(_leaf(None, "Authentication", _text(client_ip)))
            xf.write(_nl(_L_ROOT + 1))
            with xf.element("CallbuttonService"):
                xf.write(_nl(_L_SERVICE + 1))
                client_iter = iter(clients)
                first_client = next(client_iter, None)
                if first_client is None:
                    xf.write(etree.Element("GetCallDetailsResponse", status="OK"))
                else:
                    with xf.element("GetCallDetailsResponse", status="OK"):
                        pending = 0
                        for code, status_flag, calls in _chain_first(first_client, client_iter):
                            xf.write(_nl(_L_CLIENT))
                            with xf.element("Client"):
                                xf.write(_nl(_L_CLIENT_CHILD))
                                xf.write(_leaf(None, "ClientCode", _text(code)))
                                xf.write(_nl(_L_CLIENT_CHILD))
                                call_iter = iter(calls)
                                first_call = next(call_iter, None)
                                if first_call is None:
                                    xf.write(etree.Element("CallDetails"))
                                else:
                                    with xf.element("CallDetails"):
                                        for call in _chain_first(first_call, call_iter):
                                            xf.write(_nl(_L_CALL))
                                            element = _call_element(call, bool(status_flag),
                                                                    public_base_url, _L_CALL)
                                            if validate_call is not None:
                                                validate_call(element)
                                            xf.write(element)
                                            pending += 1
                                            if pending >= flush_every:
                                                pending = 0
                                                xf.flush()
                                                chunk = drain()
                                                if chunk:
                                                    yield chunk
                                        xf.write(_nl(_L_CLIENT_CHILD))
                                xf.write(_nl(_L_CLIENT))
                        xf.write(_nl(_L_RESPONSE))
                xf.write(_nl(_L_SERVICE))
            xf.write(_nl(_L_ROOT))
    chunk = drain()
    if chunk:
        yield chunk


def _chain_first(first, rest):
    yield first
    yield from rest


def build_report_in_memory(username: str, client_ip: str,
                           clients: Iterable[tuple[str, bool, Iterable[ReportCall]]],
                           public_base_url: str) -> bytes:
    """The same document as :func:`iter_report`, built as one lxml tree in memory
    (for comparison benchmarks; prefer the streaming writer in the server)."""
    root = etree.Element("Callbutton", version="B")
    _leaf(root, "Username", _text(username))
    _leaf(root, "Authentication", _text(client_ip))
    service = etree.SubElement(root, "CallbuttonService")
    response = etree.SubElement(service, "GetCallDetailsResponse", status="OK")
    for code, status_flag, calls in clients:
        client = etree.SubElement(response, "Client")
        _leaf(client, "ClientCode", _text(code))
        details = etree.SubElement(client, "CallDetails")
        for call in calls:
            details.append(_call_element(call, bool(status_flag), public_base_url, _L_CALL))
    etree.indent(root, space=INDENT)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


class InvalidCallElement(ValueError):
    """A <Call> the writer produced does not validate against the schema's CallType."""


_call_schema_trees: dict[str, etree._ElementTree] = {}
_call_schema_local = threading.local()


def _call_schema(key: str) -> etree.XMLSchema:
    # A compiled XMLSchema keeps its error log on the object, so each thread gets its own
    # (compiling takes a few milliseconds, once per thread and schema file).
    schemas = getattr(_call_schema_local, "schemas", None)
    if schemas is None:
        schemas = _call_schema_local.schemas = {}
    schema = schemas.get(key)
    if schema is None:
        with _schemas_lock:
            tree = _call_schema_trees.get(key)
            if tree is None:
                parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
                tree = etree.parse(key, parser)
                xs = "http://www.w3.org/2001/XMLSchema"
                etree.SubElement(tree.getroot(), f"{{{xs}}}element", name="Call", type="CallType")
                _call_schema_trees[key] = tree
            schema = schemas[key] = etree.XMLSchema(tree)
    return schema


def call_validator(path: Path | str | None = None) -> Callable[[etree._Element], None]:
    """A cheap per-<Call> validator for streamed reports: libxml2 (lxml) compiles the
    same authored XSD with one extra global declaration ``<xs:element name="Call"
    type="CallType"/>`` added in memory, so a single <Call> element can be validated on
    its own (about 3-4 microseconds a call, against about 300 with xmlschema, which stays
    the validator of requests and of whole documents). The writer fixes everything around
    the <Call> elements, so a stream whose every <Call> passes is a valid document.
    The returned function raises :class:`InvalidCallElement`."""
    key = str(Path(path or SCHEMA_PATH).resolve())
    _call_schema(key)  # compile now: a broken schema fails before any response starts

    def validate(element: etree._Element) -> None:
        schema = _call_schema(key)
        if not schema.validate(element):
            raise InvalidCallElement(f"<Call ID={element.get('ID')!r}> does not validate against "
                                     f"CallType: {schema.error_log.last_error}")

    return validate


def error_document(username: str, client_ip: str, status: str, message: str) -> bytes:
    """The seed's failure document: ``GetCallDetailResponse`` (no "s") with ``status``
    UNAUTHORIZED or ERROR and the message as its text."""
    if status not in ("UNAUTHORIZED", "ERROR"):
        raise ValueError(f"status must be 'UNAUTHORIZED' or 'ERROR', not {status!r}")
    root = etree.Element("Callbutton", version="B")
    _leaf(root, "Username", _text(username))
    _leaf(root, "Authentication", _text(client_ip))
    service = etree.SubElement(root, "CallbuttonService")
    _leaf(service, "GetCallDetailResponse", _text(message)).set("status", status)
    etree.indent(root, space=INDENT)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
