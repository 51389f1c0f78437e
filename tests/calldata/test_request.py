"""Callbutton (seed 002): the GetCallDetailsRequest parser (services/calldata/request.py), hostile input included.

Pure unit tests: no server, no database.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers.callbutton import SEED_REQUEST, SEED_SUCCESS, assert_clear, cc, request_doc
from lxml import etree

from services.calldata.error_document import error_document
from services.calldata.refusal import ReportRequestError
from services.calldata.request import CallDetailsRequest, parse_request
from services.core.calldetails import RequestedClient

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / "xsd" / "callbutton.xsd"
UTC = timezone.utc
pytestmark = pytest.mark.usefixtures("no_network")


# ---------------------------------------------------------------- the seed's request


def test_seed_request_parses(schema):
    schema.validate(etree.fromstring(SEED_REQUEST))  # the authored XSD accepts it as written
    parsed = parse_request(SEED_REQUEST)
    assert parsed == CallDetailsRequest(
        clients=(RequestedClient("8005551234", False), RequestedClient("8665550000", True),
                 RequestedClient("8775559876", False)),
        start=datetime(2026, 1, 5, 14, 0, tzinfo=UTC),  # CST = UTC-6
        end=datetime(2026, 1, 6, 23, 30, tzinfo=UTC),
        all_clients=False,
    )
    assert parsed.start.tzinfo is not None and parsed.start.utcoffset() == timedelta(0)


def test_star_first_means_all_clients():
    parsed = parse_request(request_doc(cc("*", "true")))
    assert parsed.all_clients and parsed.clients == (RequestedClient("*", True),)


def test_star_not_first_is_refused():
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("8005551234"), cc("*")))
    assert_clear(info.value, "'*'", "first ClientCode")


def test_empty_and_absent_dates_are_null():
    parsed = parse_request(request_doc(cc("8005551234"), start="", end=""))
    assert parsed.start is None and parsed.end is None
    parsed = parse_request(request_doc(cc("8005551234"), start="01/05/2026 08:00:00", end=" "))
    assert parsed.start == datetime(2026, 1, 5, 14, tzinfo=UTC) and parsed.end is None
    body = (b'<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
            b'<ClientCode>8005551234</ClientCode></GetCallDetailsRequest></CallbuttonService></Callbutton>')
    parsed = parse_request(body)
    assert parsed.start is None and parsed.end is None and not parsed.all_clients


def test_whitespace_around_values_is_ignored():
    parsed = parse_request(request_doc('<ClientCode status=" true ">\n 8005551234 \n</ClientCode>',
                                       start=" 07/04/2026 12:00:00 ", end=""))
    assert parsed.clients == (RequestedClient("8005551234", True),)
    assert parsed.start == datetime(2026, 7, 4, 17, tzinfo=UTC)  # CDT = UTC-5


def test_end_before_start():
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("8005551234"), start="01/06/2026 00:00:00", end="01/05/2026 00:00:00"))
    assert_clear(info.value, "Date range not valid", "EndDate")


def test_equal_start_and_end_is_accepted():
    parsed = parse_request(request_doc(cc("1"), start="01/06/2026 00:00:00", end="01/06/2026 00:00:00"))
    assert parsed.start == parsed.end


@pytest.mark.parametrize("date", ["02/30/2026 00:00:00", "02/29/2025 10:00:00", "04/31/2026 00:00:00",
                                  "01/01/0000 00:00:00"])
def test_impossible_calendar_dates(date):
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("1"), start=date))
    assert_clear(info.value, "Date range not valid", date)


def test_date_at_the_edge_of_time():
    with pytest.raises(ReportRequestError) as info:
        parse_request(request_doc(cc("1"), start="", end="12/31/9999 23:59:59"))
    assert_clear(info.value, "Date range not valid", "out of range")


# ---------------------------------------------------------------- hostile and invalid requests


def refused(body: bytes, *needles: str, **kw) -> ReportRequestError:
    started = time.monotonic()
    with pytest.raises(ReportRequestError) as info:
        parse_request(body, **kw)
    assert time.monotonic() - started < 5
    assert_clear(info.value, *needles)
    return info.value


def test_xxe_etc_passwd():
    body = b"""<?xml version="1.0"?>
<!DOCTYPE Callbutton [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>
<ClientCode>&xxe;</ClientCode><StartDate></StartDate><EndDate></EndDate>
</GetCallDetailsRequest></CallbuttonService></Callbutton>"""
    error = refused(body, "refused")
    assert "root:" not in error.message


def test_xxe_never_reads_a_local_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    for body in [
        f'<!DOCTYPE Callbutton [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        f'<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>'
        f'<ClientCode>&x;</ClientCode></GetCallDetailsRequest></CallbuttonService></Callbutton>',
        f'<!DOCTYPE Callbutton [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>'
        f'<Callbutton version="B"/>',
        f'<!DOCTYPE Callbutton SYSTEM "{secret.as_uri()}"><Callbutton version="B"/>',
    ]:
        error = refused(body.encode(), "refused")
        assert "TOP-SECRET" not in error.message and str(tmp_path) not in error.message


def test_external_dtd_over_network_is_not_fetched():
    refused(b'<!DOCTYPE Callbutton SYSTEM "http://198.51.100.1/evil.dtd"><Callbutton version="B"/>',
            "DOCTYPE")


def test_billion_laughs():
    lol = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Callbutton version="B"><CallbuttonService><GetCallDetailsRequest>
<ClientCode>&lol9;</ClientCode></GetCallDetailsRequest></CallbuttonService></Callbutton>"""
    refused(lol, "refused")


def test_doctype_alone():
    body = b'<?xml version="1.0"?>\n<!DOCTYPE Callbutton>\n' + SEED_REQUEST.split(b"?>\n", 1)[1]
    refused(body, "DOCTYPE")


def test_over_the_size_limit():
    padded = SEED_REQUEST.replace(b"<Callbutton", b"<!--" + b"x" * 2_000_000 + b"-->\n<Callbutton")
    refused(padded, "too large", "1000000")
    refused(SEED_REQUEST, "too large", max_bytes=100)
    assert parse_request(SEED_REQUEST, max_bytes=len(SEED_REQUEST)).clients


@pytest.mark.parametrize("body", [
    b"<Callbutton",
    b"<Callbutton version='B'><CallbuttonService></Callbutton>",
    b"not xml at all",
    b'<?xml version="1.0" encoding="nonsense-9"?><Callbutton version="B"/>',
    b"\xff\xfe\x00garbage",
])
def test_malformed(body):
    refused(body, "not well-formed")


def test_empty_body():
    refused(b"", "empty")
    refused(b"  \n", "empty")


@pytest.mark.parametrize("body, needles", [
    (request_doc(cc("8005551234"), "<Unknown/>"), ["does not validate", "Unknown"]),
    (request_doc(cc("8005551234"), start="2026-01-05 08:00:00"), ["does not validate", "StartDate"]),
    (request_doc(cc("8005551234"), start="13/05/2026 08:00:00"), ["does not validate", "StartDate"]),
    (request_doc(cc("8005551234"), end="01/05/2026 8:00 PM"), ["does not validate", "EndDate"]),
    (request_doc(cc("8005551234", "yes")), ["does not validate", "status"]),
    (request_doc(), ["does not validate", "ClientCode"]),
    (request_doc(cc("")), ["does not validate", "ClientCode"]),
    (SEED_REQUEST.replace(b' version="B"', b""), ["does not validate", "version"]),
    (SEED_REQUEST.replace(b'version="B"', b'version="A"'), ["does not validate", "version"]),
    (SEED_REQUEST.replace(b"GetCallDetailsRequest", b"GetCallDetailRequest"),
     ["does not validate", "GetCallDetailRequest"]),
    (b'<GetCallDetailsRequest><ClientCode>1</ClientCode></GetCallDetailsRequest>',
     ["does not validate", "GetCallDetailsRequest"]),
    (SEED_REQUEST.replace(b"<Callbutton ", b'<Callbutton xmlns="urn:x" '), ["does not validate"]),
])
def test_non_validating_requests(body, needles):
    refused(body, *needles)


def test_response_documents_are_not_requests():
    refused(SEED_SUCCESS, "does not validate", "GetCallDetailsRequest")
    refused(error_document("u", "ip", "ERROR", "x"), "does not validate")


def test_huge_value_in_error_message_is_truncated():
    error = refused(request_doc(cc("8005551234"), start="9" * 50_000), "does not validate")
    assert len(error.message) < 1_000


def test_parse_request_is_thread_safe():
    errors = []

    def work():
        try:
            for _ in range(20):
                assert parse_request(SEED_REQUEST).clients[1].status is True
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
