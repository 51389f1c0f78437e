"""The dense rules of Recall's routes, in process: text-file quoting, URL encoding, the file
name a CRM opens, the company settings accepted, the signature and the backoff cap."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import datetime, timezone
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from services.core import crm
from services.core.errors import InvalidInput
from services.integrations.delivery import DeliveryAuth, signature
from services.integrations.outbox_worker import OutboxWorker
from services.integrations.recall import render_url, text_line, wire_record

RECORD = crm.CallRecord(call_id=7, reference="1234567890", started_at=datetime(2026, 7, 1, 9, 30, 5, tzinfo=timezone.utc),
                        dialled_number="+18005551234", calling_number='Smith, "J"\r\n+1', phone_number="a&b=c#d",
                        extension="201", call_type="inbound", duration=None, audio_file="\\\\rec\\a\tb.mp3")


def test_the_date_is_in_the_server_zone_in_the_seed_format():
    assert wire_record(RECORD, "Europe/London")["date_time"] == "2026-07-01 10:30:05"  # BST
    assert wire_record(RECORD, "UTC")["date_time"] == "2026-07-01 09:30:05"


@pytest.mark.parametrize("separator, delimiter", [("comma", ","), ("tab", "\t")])
def test_text_line_quotes_what_would_break_a_column(separator, delimiter):
    line = text_line(wire_record(RECORD, "UTC"), separator)
    assert line.endswith("\r\n")
    [row] = list(csv.reader(io.StringIO(line, newline=""), delimiter=delimiter))
    assert row == ["2026-07-01 09:30:05", "201", "inbound", 'Smith, "J"\r\n+1', "+18005551234", "",
                   "\\\\rec\\a\tb.mp3", "1234567890"]
    assert '"Smith, ""J""\r\n+1"' in line  # quoted, inner quotes doubled


def test_a_plain_line_has_no_quotes():
    plain = crm.CallRecord(**{**RECORD.__dict__, "calling_number": "+13125550100", "audio_file": "/r/x.mp3",
                              "duration": 42})
    assert text_line(wire_record(plain, "UTC")) == \
        "2026-07-01 09:30:05,201,inbound,+13125550100,+18005551234,42,/r/x.mp3,1234567890\r\n"


def test_every_placeholder_value_is_percent_encoded():
    url = render_url("https://crm.example/in?n=[phone number]&c=[calling number]&f=[audio file]&d=[call duration]",
                     wire_record(RECORD, "UTC"))
    parts = urlsplit(url)
    assert parts.hostname == "crm.example" and not parts.fragment
    assert parse_qs(parts.query, keep_blank_values=True) == {
        "n": ["a&b=c#d"], "c": ['Smith, "J"\r\n+1'], "f": ["\\\\rec\\a\tb.mp3"], "d": [""]}
    assert "\r" not in url and "\n" not in url and " " not in url


@pytest.mark.parametrize("template", ["http://crm.example/?n=[phone number]", "https://crm.example:8443/p/[extension]",
                                      "http://customer-crm/?number=[phone number]&agent=[extension]&date&time="
                                      "[date & time]&]&duration=[call duration]&audiofile=[audio file]"])
def test_templates_accepted(template):
    assert crm.check_url_template(template) == template


@pytest.mark.parametrize("template", ["http://[extension]/x", "http://crm.example:[extension]/", "//crm/?[extension]",
                                      "javascript:alert(1)", "http://u:[extension]@crm.example/", "http://crm.example/ x"])
def test_templates_refused(template):
    with pytest.raises(InvalidInput):
        crm.check_url_template(template)


def recording(**values):
    return SimpleNamespace(**{"reference": "1234567890", "file_path": "2026/07/01/abc.mp3", "state": "available",
                              **values})


def test_the_audio_file_as_the_crm_opens_it():
    store = SimpleNamespace(path_of=lambda rel: f"/srv/recordings/{rel}")
    company = SimpleNamespace
    assert crm.audio_file(company(recording_path_prefix="\\\\recorder\\recordings\\"), recording(), store) == \
        "\\\\recorder\\recordings\\2026\\07\\01\\abc.mp3"
    assert crm.audio_file(company(recording_path_prefix="/mnt/rec"), recording(), store) == "/mnt/rec/2026/07/01/abc.mp3"
    assert crm.audio_file(company(recording_path_prefix="http://r:8000/bluebutler/service/MP3/"),
                          recording(file_path=None, state="recording"), store) == \
        "http://r:8000/bluebutler/service/MP3/1234567890"  # known from the first moment
    assert crm.audio_file(company(recording_path_prefix="\\\\r\\"), recording(file_path=None), store) == ""
    assert crm.audio_file(None, recording(), store) == "/srv/recordings/2026/07/01/abc.mp3"
    assert crm.audio_file(None, recording(state="purged"), store) == ""


@pytest.mark.parametrize("config, reason", [
    ({"kind": "xml", "url": "http://c/"}, "kind"),
    ({"kind": "json"}, "url"),
    ({"kind": "json", "url": "file:///etc/passwd"}, "url"),
    ({"kind": "soap", "wsdl": "http://c/?wsdl", "mapping": {"a": "reference"}}, "operation"),
    ({"kind": "soap", "wsdl": "http://c/?wsdl", "operation": "Op", "mapping": {}}, "mapping"),
    ({"kind": "jsonp", "url": "http://c/", "callback": "a;b"}, "callback"),
    ({"kind": "json", "url": "http://c/", "password": "x"}, "unknown key"),
])
def test_web_service_settings_refused(config, reason):
    with pytest.raises(InvalidInput, match=reason):
        crm.check_web_service(config)


def test_the_signature_covers_the_body_or_the_get_target():
    auth = DeliveryAuth("key-1", "a-secret-of-some-length", clock=lambda: 1_800_000_000)
    post = auth(requests.Request("POST", "http://c/in", data=b'{"a": 1}').prepare())
    get = auth(requests.Request("GET", "http://c/in?x=1&y=%26").prepare())
    for request, content in ((post, b'{"a": 1}'), (get, b"/in?x=1&y=%26")):
        assert request.headers["Idempotency-Key"] == "key-1"
        assert request.headers["X-Callsuite-Timestamp"] == "1800000000"
        expected = hmac.new(b"a-secret-of-some-length", b"1800000000." + content, hashlib.sha256).hexdigest()
        assert request.headers["X-Callsuite-Signature"] == f"sha256={expected}" == \
            signature("a-secret-of-some-length", "1800000000", content)
    unsigned = DeliveryAuth("key-2", None)(requests.Request("GET", "http://c/").prepare())
    assert "X-Callsuite-Signature" not in unsigned.headers and "secret" not in repr(auth)


def test_backoff_doubles_up_to_its_cap():
    worker = OutboxWorker(database=None, interval_s=1.0, backoff_cap_s=10.0)
    ceilings = [max(worker.backoff_s(n) for _ in range(50)) for n in range(1, 8)]
    assert all(0.5 * c <= upper <= c for upper, c in zip(ceilings, [1, 2, 4, 8, 10, 10, 10], strict=True))
