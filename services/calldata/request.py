"""The Callbutton request (seed 002): a GetCallDetailsRequest document parsed, validated
and read into a `CallDetailsRequest`, hostile input refused with a clear reason."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from lxml import etree

from services.core.calldetails import RequestedClient
from services.http.wsgi import BadXmlEncoding, xml_has_dtd

from .central_time import parse_central
from .refusal import ReportRequestError
from .validation import get_schema, libxml2_accepts, parse_document

DEFAULT_MAX_BYTES = 1_000_000
_MAX_REASON = 300
# Bounds checked on the parsed tree before xmlschema sees it: its work grows with the
# attributes of one element faster than linearly (10,000 took 11 s). A real request is 4
# levels deep with one attribute per element and at most a few thousand client codes.
MAX_ELEMENTS = 10_000
MAX_ATTRIBUTES = 4
MAX_DEPTH = 12


@dataclass(frozen=True)
class CallDetailsRequest:
    clients: tuple[RequestedClient, ...]
    start: Optional[datetime]  # aware UTC, or None (null)
    end: Optional[datetime]  # aware UTC, or None (null: until now)
    all_clients: bool  # the first ClientCode is "*"



def _check_shape(root: etree._Element) -> None:
    """Refuse documents too large in structure for schema validation to be cheap."""
    elements = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        elements += 1
        if elements > MAX_ELEMENTS:
            raise ReportRequestError(f"Request refused: more than {MAX_ELEMENTS} elements")
        if depth > MAX_DEPTH:
            raise ReportRequestError(f"Request refused: elements nested deeper than {MAX_DEPTH} levels")
        if len(element.attrib) > MAX_ATTRIBUTES:
            raise ReportRequestError(f"Request refused: element {element.tag!r:.60} has more than {MAX_ATTRIBUTES} attributes")
        stack.extend((child, depth + 1) for child in element)


def parse_request(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  schema_path: Path | str | None = None) -> CallDetailsRequest:
    """Parse, validate and interpret a GetCallDetailsRequest document.

    Hostile-input safe: the size is checked first; a document that declares a DTD or
    entities is refused before it is parsed (no XXE, no billion laughs, no network, no local
    file read); libxml2 parses it once, with entity expansion, DTD loading and the network
    off, and validates that tree against xsd/callbutton.xsd; xmlschema, slower but clearer
    in its reasons, explains what libxml2 refused. Raises :class:`ReportRequestError`.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise ReportRequestError("Request body must be XML bytes")
    if len(body) > max_bytes:
        raise ReportRequestError(f"Request too large: {len(body)} bytes, the limit is {max_bytes} bytes")
    if not body.strip():
        raise ReportRequestError("Request body is empty: expected a Callbutton GetCallDetailsRequest XML document")

    unreadable = "Request is not well-formed XML: unreadable encoding"
    try:
        declares_dtd = xml_has_dtd(body)
    except BadXmlEncoding:
        raise ReportRequestError(unreadable) from None
    if declares_dtd:
        raise ReportRequestError("Request refused: DOCTYPE declarations (and so entity declarations) "
                                 "are not allowed")
    try:
        root = parse_document(body)
    except etree.XMLSyntaxError as exc:
        raise ReportRequestError(f"Request is not well-formed XML: {exc}") from None
    except (ValueError, LookupError, UnicodeError):
        raise ReportRequestError(unreadable) from None

    _check_shape(root)
    error = None if libxml2_accepts(root, schema_path) else next(get_schema(schema_path).iter_errors(root), None)
    if error is not None:
        reason = error.reason or error.message or "invalid document"
        if len(reason) > _MAX_REASON:
            reason = reason[:_MAX_REASON] + "..."
        where = f" (at {error.path})" if error.path else ""
        if error.path and error.path.rsplit("/", 1)[-1] in ("StartDate", "EndDate"):
            where += "; dates are MM/DD/YYYY HH:MM:SS, 24-hour, US Central Time, or empty"
        raise ReportRequestError(f"Request does not validate against the Callbutton schema: {reason}{where}")

    # The schema lets <Callbutton> hold a request or a response; only a request is served.
    request = root.find("CallbuttonService/GetCallDetailsRequest")
    if request is None or root.find("Username") is not None:
        raise ReportRequestError("Request does not validate against the Callbutton schema: expected "
                      "Callbutton/CallbuttonService/GetCallDetailsRequest without "
                      "Username/Authentication (this is a response document)")

    clients: list[RequestedClient] = []
    for index, element in enumerate(request.findall("ClientCode")):
        code = (element.text or "").strip()
        if code == "*" and index > 0:
            raise ReportRequestError("ClientCode '*' (all clients) is only allowed as the first ClientCode")
        clients.append(RequestedClient(code=code, status=(element.get("status") or "").strip() == "true"))

    start_text = (request.findtext("StartDate") or "").strip()
    end_text = (request.findtext("EndDate") or "").strip()
    start = parse_central(start_text, "StartDate") if start_text else None
    end = parse_central(end_text, "EndDate") if end_text else None
    if start is not None and end is not None and end < start:
        raise ReportRequestError(f"Date range not valid: EndDate {end_text!r} is before StartDate {start_text!r}")

    return CallDetailsRequest(clients=tuple(clients), start=start, end=end,
                              all_clients=clients[0].code == "*")
