"""Failed sign-ins are rate-limited on every credentialed surface, over real HTTP: after 40
wrong passwords from the attacker's address even the right one is refused there (429 or
the protocol's refusal, with Retry-After), while the real user at another address still
signs in. Addresses come from X-Forwarded-For through the configured trusted proxy."""
from __future__ import annotations

import copy
import json

import pytest
import requests
from helpers.callbutton import request_doc
from helpers.console import csrf_of
from helpers.postgres import PostgresServer
from helpers.server import CTI_TOKEN, DEMO_SITE, start_server
from helpers.soap import BMS, soap_body, zeep_client
from lxml import etree
from sqlalchemy import func, select
from zeep.exceptions import Fault, TransportError

from storage.models import SigninFailure

ATTEMPTS = 40
PARTNER = ("partner1", "demo-partner-pw")
XML_PATH = "/cb/main/jsp/xml/xml.jsp"
REC = "urn:callsuite:recording:1"


def from_(address: str) -> dict:
    return {"X-Forwarded-For": address}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    site = json.loads(DEMO_SITE.read_text())
    site["partners"] = copy.deepcopy(site["partners"])
    site["partners"][0]["allowed_ips"] = ["203.0.113.0/24", "198.51.100.0/24"]
    server = start_server(tmp_path_factory.mktemp("ratelimit"), site=site, trusted_proxy="127.0.0.1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference(live):
    return live.recorded_call("201", talk_s=1.0).reference


def assert_limited(r: requests.Response) -> None:
    assert r.status_code == 429, f"{r.status_code} {r.text[:300]}"
    assert 0 < int(r.headers["Retry-After"]) <= live_window()


def live_window() -> int:
    return 900  # the default signin_window_s


def test_mp3_basic(live, reference):
    url = live.url(f"/bluebutler/service/MP3/{reference}")
    answers = [requests.get(url, auth=("bms", f"guess-{n}"), headers=from_("203.0.113.10")).status_code
               for n in range(ATTEMPTS)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    assert_limited(requests.get(url, auth=BMS, headers=from_("203.0.113.10")))
    real_user = requests.get(url, auth=BMS, headers=from_("198.51.100.10"))
    assert real_user.status_code == 200 and real_user.headers["Content-Type"] == "audio/mpeg"
    # The same account and limit on every binding of the recording service: SOAP too.
    body = (f'<GetRecordingInfo xmlns="{REC}"><refNum>{reference}</refNum></GetRecordingInfo>')
    envelope = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                f'{body}</soap:Body></soap:Envelope>')
    r = requests.post(live.url("/soap/recording"), data=envelope, auth=BMS,
                      headers={**from_("203.0.113.10"), "Content-Type": "text/xml"})
    assert_limited(r)
    assert "Client.TooManyAttempts" in soap_body(r.content).findtext("faultcode")
    with live.db.session() as session:
        stored = session.scalar(select(func.count()).select_from(SigninFailure)
                                .where(SigninFailure.address == "203.0.113.10"))
    assert stored == 5  # refused attempts are not counted, nor their passwords checked


def test_soap_basic(live, reference):
    client = zeep_client(live.url("/soap/recording?wsdl"), auth=("bms", "wrong"))
    client.transport.session.headers.update(from_("203.0.113.11"))
    statuses = []
    for _ in range(ATTEMPTS):
        r = client.transport.session.post(
            live.url("/soap/recording"), headers={"Content-Type": "text/xml"},
            data=etree.tostring(client.create_message(client.service, "GetRecordingInfo", refNum=reference)))
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    client.transport.session.auth = BMS
    with pytest.raises((Fault, TransportError)):  # refused: the right password from a throttled address
        client.service.GetRecordingInfo(refNum=reference)
    real = zeep_client(live.url("/soap/recording?wsdl"))
    real.transport.session.headers.update(from_("198.51.100.11"))
    assert real.service.GetRecordingInfo(refNum=reference).ReferenceNumber == reference


def test_callbutton_xml_service_and_its_soap(live):
    def report(auth, address):
        return requests.post(live.url(XML_PATH), data=request_doc("8005551234"), auth=auth,
                             headers={**from_(address), "Content-Type": "text/xml"})

    answers = [report(("partner1", f"guess-{n}"), "203.0.113.12") for n in range(ATTEMPTS)]
    assert [r.status_code for r in answers[:5]] == [200] * 5  # the seed's UNAUTHORIZED document
    assert {r.status_code for r in answers[5:]} == {429}
    refused = report(PARTNER, "203.0.113.12")
    assert_limited(refused)
    answer = etree.fromstring(refused.content).find(".//GetCallDetailResponse")
    assert answer.get("status") == "UNAUTHORIZED" and "try again in" in answer.text
    real = report(PARTNER, "198.51.100.12")
    assert real.status_code == 200
    root = etree.fromstring(real.content)
    assert root.find(".//GetCallDetailResponse") is None, real.text  # the report, not a refusal
    assert (root.findtext("Username"), root.findtext("Authentication")) == ("partner1", "198.51.100.12")
    # The call-data SOAP service shares the partner's limit.
    client = zeep_client(live.url("/soap/calldata?wsdl"), auth=None, xsd_name="calldata.xsd")
    client.transport.session.headers.update(from_("203.0.113.12"))
    message = client.create_message(client.service, "GetCallDetails", username=PARTNER[0], password=PARTNER[1],
                                    clientCode=["8005551234"])
    r = client.transport.session.post(live.url("/soap/calldata"), data=etree.tostring(message),
                                      headers={"Content-Type": "text/xml"})
    assert_limited(r)
    client.transport.session.headers.update(from_("198.51.100.12"))
    assert client.service.GetCallDetails(username=PARTNER[0], password=PARTNER[1],
                                         clientCode=["8005551234"]).Username == "partner1"


def test_console_sign_in(live):
    def sign_in(password, address):
        http = requests.Session()
        http.headers.update(from_(address))
        form = http.get(live.url("/console/signin"), timeout=10)
        return http.post(live.url("/console/signin"), timeout=10, allow_redirects=False,
                         data={"csrf": csrf_of(form.text), "username": "alice", "password": password})

    answers = [sign_in(f"guess-{n}", "203.0.113.13").status_code for n in range(ATTEMPTS)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    refused = sign_in("demo-alice-pw", "203.0.113.13")
    assert_limited(refused)
    assert "Too many failed sign-ins" in refused.text
    real = sign_in("demo-alice-pw", "198.51.100.13")
    assert real.status_code == 303 and real.headers["Location"] == "/console/"


def test_spraying_many_accounts_from_one_address(live, reference):
    url = live.url(f"/bluebutler/service/MP3/{reference}")
    for n in range(30):  # signin_max_address_failures: one failure each for 30 names
        assert requests.get(url, auth=(f"user{n}", "guess"), headers=from_("203.0.113.14")).status_code == 401
    assert_limited(requests.get(url, auth=BMS, headers=from_("203.0.113.14")))
    assert requests.get(url, auth=BMS, headers=from_("198.51.100.14")).status_code == 200


def test_cti_wrong_tokens(live):
    def post(token, address):
        return requests.post(live.url("/cti/v1/events"), json={"event": "call.started", "call_id": "rl-1",
                                                               "at": "2026-11-20T10:00:00Z"},
                             headers={**from_(address), "Authorization": f"Bearer {token}"})

    answers = [post(f"guess-{n}", "203.0.113.15").status_code for n in range(ATTEMPTS)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    # The right token is never refused: nobody guesses 128 bits, and a PBX must not wait.
    assert post(CTI_TOKEN, "203.0.113.15").status_code in (200, 201)


def test_two_servers_sharing_postgresql_count_together(tmp_path):
    postgres = PostgresServer().start()  # .ci/run installs PostgreSQL; missing is an error
    servers = []
    try:
        url = postgres.create_database("ratelimit")
        # Two servers sharing the database and the recording store, as two processes would.
        servers = [start_server(tmp_path, database_url=url, trusted_proxy="127.0.0.1") for _ in range(2)]
        reference = servers[0].recorded_call("201", talk_s=1.0).reference
        for n in range(5):  # the attacker's failures reach the first server only ...
            r = requests.get(servers[0].url(f"/bluebutler/service/MP3/{reference}"), auth=("bms", f"guess-{n}"),
                             headers=from_("203.0.113.16"))
            assert r.status_code == 401
        # ... and the second refuses that address too, without checking the password.
        assert_limited(requests.get(servers[1].url(f"/bluebutler/service/MP3/{reference}"), auth=BMS,
                                    headers=from_("203.0.113.16")))
        assert requests.get(servers[1].url(f"/bluebutler/service/MP3/{reference}"), auth=BMS,
                            headers=from_("198.51.100.16")).status_code == 200
    finally:
        for server in servers:
            server.stop()
        postgres.stop()
