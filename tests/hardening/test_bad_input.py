"""Hostile or broken input gets the protocol's own error, quickly: never a 500 from the
server middleware, a traceback, or a log the size of the request (issue 8, part B)."""
from __future__ import annotations

import logging
import threading
import time

import requests
from helpers.callbutton import request_doc
from helpers.console import signed_in
from helpers.server import CTI_TOKEN
from helpers.soap import soap_body
from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XML_UTF8 = {"Content-Type": "text/xml; charset=utf-8"}
ADD_LINK = '<AddLink xmlns="urn:callsuite:recording:1"><id>{}</id></AddLink>'


def envelope(body: str, ns: str = SOAP11, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f'{declaration}<s:Envelope xmlns:s="{ns}"><s:Body>{body}</s:Body></s:Envelope>'


def client_fault(response: requests.Response) -> str:
    """The faultstring of a SOAP 1.1 Client fault (fails on anything else)."""
    assert response.status_code == 500, response.text
    assert response.headers["Content-Type"].startswith("text/xml"), response.text
    fault = soap_body(response.content)
    assert fault.tag == f"{{{SOAP11}}}Fault"
    assert fault.findtext("faultcode").split(":")[-1].startswith("Client")
    return fault.findtext("faultstring")


def test_a_soap_body_that_is_not_utf8_is_a_client_fault(live):
    latin1 = envelope(ADD_LINK.format("ACT-\xe9")).encode("latin-1")
    text = client_fault(requests.post(live.url("/soap/recording"), data=latin1, headers=XML_UTF8, timeout=10))
    assert "utf-8" in text
    # SOAP 1.2: the Sender fault with 400.
    response = requests.post(live.url("/soap/recording"), data=envelope(ADD_LINK.format("ACT-\xe9"), SOAP12)
                             .encode("latin-1"), headers={"Content-Type": "application/soap+xml; charset=utf-8"},
                             timeout=10)
    assert response.status_code == 400
    assert soap_body(response.content).find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value").text.endswith("Sender")
    # The same text, honestly labelled, is served.
    labelled = envelope(ADD_LINK.format("ACT-\xe9"), declaration='<?xml version="1.0" encoding="ISO-8859-1"?>')
    response = requests.post(live.url("/soap/recording"), data=labelled.encode("latin-1"), timeout=10,
                             headers={"Content-Type": "text/xml; charset=iso-8859-1"})
    assert response.status_code == 200, response.text


def test_a_utf16_dtd_is_refused_like_a_utf8_one(live):
    hostile = envelope(ADD_LINK.format("&a;"), declaration='<?xml version="1.0" encoding="UTF-16"?>'
                       '<!DOCTYPE s:Envelope [<!ENTITY a "ACT-entity">]>')
    # Labelled honestly, unlabelled, or labelled as a charset that reads any byte (lxml would
    # still follow the byte order mark and the declaration).
    for data, charset in ((hostile.encode("utf-16"), "utf-16"), (hostile.encode("utf-16-le"), "utf-16le"),
                          (hostile.encode("utf-16"), None), (hostile.encode("utf-16"), "iso-8859-1")):
        headers = {"Content-Type": "text/xml" + (f"; charset={charset}" if charset else "")}
        text = client_fault(requests.post(live.url("/soap/recording"), data=data, headers=headers, timeout=10))
        assert "DTD" in text
    # Labelled UTF-8, UTF-16 bytes cannot be read at all.
    text = client_fault(requests.post(live.url("/soap/recording"), data=hostile.encode("utf-16"), headers=XML_UTF8,
                                      timeout=10))
    assert "utf-8" in text
    # A UTF-16 message without a DTD is a message like any other.
    plain = envelope(ADD_LINK.format("ACT-16"), declaration='<?xml version="1.0" encoding="UTF-16"?>')
    response = requests.post(live.url("/soap/recording"), data=plain.encode("utf-16"), timeout=10,
                             headers={"Content-Type": "text/xml; charset=utf-16"})
    assert response.status_code == 200, response.text


def test_deeply_nested_json_is_a_400(live):
    deep = b"[" * 100_000 + b"]" * 100_000
    for path, headers in (("/sim/v1/calls", {}), ("/cti/v1/events", {"Authorization": f"Bearer {CTI_TOKEN}"})):
        response = requests.post(live.url(path), data=deep, timeout=10,
                                 headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 400, (path, response.status_code, response.text)
        assert "nested deeper" in response.json()["error"]
        # Depth inside strings does not count.
        response = requests.post(live.url(path), json={"extension": "[[[[" * 40}, timeout=10, headers=headers)
        assert response.status_code == 400 and "nested" not in response.text
        too_big = requests.post(live.url(path), data=b" " * (2 * 1024 * 1024), timeout=10, headers=headers)
        assert too_big.status_code == 413


def test_integers_beyond_64_bits_are_a_400_with_a_reason(live):
    started = {"event": "call.started", "at": "2026-11-20T10:00:00+00:00", "extension": "201"}
    response = live.cti({**started, "call_id": "big-campaign", "campaign": 99999999999999999999})
    assert response.status_code == 400
    assert "out of range" in response.json()["error"]
    response = live.cti({**started, "call_id": "big-campaign-text", "campaign": "99999999999999999999"})
    assert response.status_code == 400 and "campaign" in response.json()["error"]
    response = requests.post(live.url("/sim/v1/calls"), data=b'{"extension": "201", "duration_s": 1' + b"0" * 30
                             + b"}", timeout=10)
    assert response.status_code == 400 and "out of range" in response.json()["error"]
    with live.db.session() as session:
        from services.core import ledger
        assert ledger.find_call(session, "cti", "big-campaign") is None
        assert ledger.find_call(session, "cti", "big-campaign-text") is None


def test_console_ids_beyond_64_bits_are_not_found(live):
    http, csrf = signed_in(live)
    for huge in ("9" * 20, str(2 ** 63)):
        assert http.get(live.url(f"/console/calls/{huge}"), timeout=10).status_code == 404
        assert http.post(live.url(f"/console/calls/{huge}"), data={"csrf": csrf}, timeout=10).status_code == 404
        page = http.get(live.url(f"/console/?linked={huge}"), timeout=10)
        assert page.status_code == 200 and 'id="notice"' not in page.text
        response = http.post(live.url("/console/link"), data={"csrf": csrf, "link": huge, "reference": "1"},
                             timeout=10)
        assert response.status_code == 400
    # Digits that are not ASCII digits are no id either.
    response = http.post(live.url("/console/link"), data={"csrf": csrf, "link": "\u00b2", "reference": "1"},
                         timeout=10)
    assert response.status_code == 400


def test_a_host_header_with_a_64_character_label_is_a_400_not_a_500(live):
    host = "a" * 64 + ".example.com"
    for path in ("/health", "/bluebutler/service/AddLink/id=ACT-HOST", "/soap/recording?wsdl", "/console/"):
        response = requests.get(live.url(path), headers={"Host": host}, timeout=10)
        assert response.status_code == 400, (path, response.status_code)
        assert "Host" in response.text
    # Labels up to 63 characters are a host name like any other.
    response = requests.get(live.url("/soap/recording?wsdl"), headers={"Host": "a" * 63 + ".example.com"}, timeout=10)
    assert response.status_code == 200
    assert b"http://" + b"a" * 63 + b".example.com/soap/recording" in response.content


def test_a_callbutton_request_with_10000_attributes_is_refused_before_validation(live):
    attributes = " ".join(f'a{i}="1"' for i in range(10_000))
    body = request_doc("8005551234").replace(b'<Callbutton version="B">',
                                              f'<Callbutton version="B" {attributes}>'.encode())
    health: dict = {}

    def probe():
        time.sleep(0.2)
        health["status"] = requests.get(live.url("/health"), timeout=30).status_code

    prober = threading.Thread(target=probe)
    prober.start()
    answers = []

    def post():
        answers.append(requests.post(live.url("/cb/main/jsp/xml/xml.jsp"), data=body,
                                     auth=("partner1", "demo-partner-pw"), timeout=60))

    posters = [threading.Thread(target=post) for _ in range(8)]
    for thread in posters:
        thread.start()
    for thread in posters + [prober]:
        thread.join()
    assert health["status"] == 200
    for response in answers:
        assert response.status_code == 200
        document = etree.fromstring(response.content)
        failure = document.find("CallbuttonService/GetCallDetailResponse")
        assert failure.get("status") == "ERROR"
        assert "more than 4 attributes" in failure.text


def test_a_large_malformed_soap_body_logs_only_an_excerpt(live, caplog):
    body = envelope("<" + "x" * 1_000_000)
    with caplog.at_level(logging.INFO):
        response = requests.post(live.url("/soap/recording"), data=body.encode(), headers=XML_UTF8, timeout=30)
    client_fault(response)
    logged = sum(len(record.getMessage()) for record in caplog.records)
    assert 0 < logged < 10_000, logged
