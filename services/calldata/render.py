"""The Callbutton report (seed 002) as XML: one <Call>, the whole document as one tree.

Wire format, exactly as the seed writes it (see xsd/callbutton.xsd, the source of truth):
dates in US Central Time (central_time.py); DID, ANI and Target as 10 digits without
``+1``. Values the schema restricts (Result, InfoDigits, SalesStatus, numbers, seconds) are
rendered as the empty string when the ledger holds something outside the schema's set, so
every document written validates; characters that XML 1.0 cannot carry are dropped.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional
from urllib.parse import quote

from lxml import etree

from services.core.calldetails import ReportCall

from .central_time import to_central

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "  "
CALL_LEVEL = 5  # the depth of a <Call> in the success document, as etree.indent lays it out

_ALLOWED_RESULTS = frozenset({"Connected", "Busy", "No Answer", "Abandoned"})
_ALLOWED_INFO_DIGITS = frozenset({"p", "c"})
_ALLOWED_SALES = frozenset({"Called back", "Made sale"})
_NANP_E164 = re.compile(r"\+1([2-9][0-9]{2}[2-9][0-9]{6})")
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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


def xml_text(value: object) -> str:
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


def leaf(parent: etree._Element | None, tag: str, text: str) -> etree._Element:
    element = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
    if text:
        element.text = text
    return element


def call_element(call: ReportCall, status_flag: bool, public_base_url: str,
                 level: int) -> etree._Element:
    """One <Call>, already indented for depth ``level`` (its own tail left unset)."""
    el = etree.Element("Call", ID=xml_text(call.call_id))
    leaf(el, "StartTime", to_central(call.start_time))
    leaf(el, "Campaign", xml_text(call.campaign))
    leaf(el, "DID", ten_digits(call.did))
    leaf(el, "ANI", ten_digits(call.ani))
    leaf(el, "OtherData", xml_text(call.other_data))
    leaf(el, "InfoDigits", _member(call.info_digits, _ALLOWED_INFO_DIGITS))
    leaf(el, "Target", ten_digits(call.target))
    leaf(el, "Result", _member(call.result, _ALLOWED_RESULTS))
    leaf(el, "Duration", _seconds(call.duration))
    leaf(el, "TalkTime", _seconds(call.talk_time))
    leaf(el, "IndexNumber", xml_text(call.index_number))
    if call.recorded:
        leaf(el, "VoiceDirectory", xml_text(voice_directory_url(public_base_url, call.call_id)))
    a = call.address
    if a is not None:
        address = etree.SubElement(el, "Address")
        for tag, value in (("FirstName", a.first_name), ("MiddleInitial", a.middle_initial),
                           ("LastName", a.last_name), ("StreetAddress", a.street_address),
                           ("SecondaryAddress", a.secondary_address), ("City", a.city),
                           ("State", a.state), ("ZIP", a.zip), ("ZIP4", a.zip4)):
            leaf(address, tag, xml_text(value))
    if status_flag:
        leaf(el, "ReviewedStatus", "Reviewed" if call.reviewed else "Unreviewed")
    leaf(el, "DTMF", xml_text(call.dtmf))
    if status_flag:
        leaf(el, "SalesStatus", _member(call.sales_status, _ALLOWED_SALES))
        leaf(el, "Journal", xml_text(call.journal))
    etree.indent(el, space=INDENT, level=level)
    return el


def build_report_in_memory(username: str, client_ip: str,
                           clients: Iterable[tuple[str, bool, Iterable[ReportCall]]],
                           public_base_url: str) -> bytes:
    """The same document as :func:`iter_report`, built as one lxml tree in memory
    (for comparison benchmarks; prefer the streaming writer in the server)."""
    root = etree.Element("Callbutton", version="B")
    leaf(root, "Username", xml_text(username))
    leaf(root, "Authentication", xml_text(client_ip))
    service = etree.SubElement(root, "CallbuttonService")
    response = etree.SubElement(service, "GetCallDetailsResponse", status="OK")
    for code, status_flag, calls in clients:
        client = etree.SubElement(response, "Client")
        leaf(client, "ClientCode", xml_text(code))
        details = etree.SubElement(client, "CallDetails")
        for call in calls:
            details.append(call_element(call, bool(status_flag), public_base_url, CALL_LEVEL))
    etree.indent(root, space=INDENT)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
