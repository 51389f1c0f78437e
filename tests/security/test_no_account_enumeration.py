"""No account enumeration: on every credentialed surface, a wrong password for an account
that exists and any password for one that does not get the same answer (status, headers,
body, the account name aside where the seed echoes it), and both cost one argon2
verification (the unknown account is checked against a dummy hash), counted by the
server's own metric - not timed."""
import re

import pytest
import requests
from helpers.callbutton import request_doc
from helpers.console import csrf_of
from helpers.server import start_server

IGNORED_HEADERS = {"date", "x-request-id"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    # Many failures from one address: the spraying limit must not be what answers here.
    # RetrieveRecFile asks 127.0.0.1 for credentials only when loopback is not an allowed network.
    server = start_server(tmp_path_factory.mktemp("enumeration"), signin_max_address_failures=1000,
                          recall_allowed_networks=["192.0.2.0/24"])
    yield server
    server.stop()


def verifications(live) -> int:
    text = requests.get(live.url("/metrics"), timeout=10).text
    return int(float(re.search(r"^callsuite_password_verifications (\S+)$", text, re.M).group(1)))


def soap(live, path, body):
    envelope = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                f"<s:Body>{body}</s:Body></s:Envelope>")
    return lambda account, secret: requests.post(live.url(path), data=envelope.encode(), auth=(account, secret),
                                                 headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)


def console_signin(live):
    http = requests.Session()
    csrf = csrf_of(http.get(live.url("/console/signin"), timeout=10).text)
    return lambda account, secret: http.post(live.url("/console/signin"), timeout=30,
                                             data={"csrf": csrf, "username": account, "password": secret})


# surface -> (an existing account, a missing one of the same length, the request)
SURFACES = {
    "blueButler MP3 (Basic)": ("bms", "bmq", lambda live: lambda a, p: requests.get(
        live.url("/bluebutler/service/MP3/1234567890"), auth=(a, p), timeout=30)),
    "PlayByPhone (Basic)": ("bms", "bmq", lambda live: lambda a, p: requests.get(
        live.url("/bluebutler/service/PlayByPhone/1234567890/+13125550111"), auth=(a, p), timeout=30)),
    "recording GET binding (Basic)": ("alice", "alicf", lambda live: lambda a, p: requests.get(
        live.url("/rest/recording/GetRecordingInfo"), params={"refNum": "1"}, auth=(a, p), timeout=30)),
    "recording SOAP 1.1 (Basic)": ("alice", "alicf", lambda live: soap(
        live, "/soap/recording", '<GetRecordingInfo xmlns="urn:callsuite:recording:1"><refNum>1</refNum>'
                                 "</GetRecordingInfo>")),
    "Recall RetrieveRecFile (Basic)": ("alice", "alicf", lambda live: lambda a, p: requests.get(
        live.url("/RecallIPInterfaceWS/JSONP/Recording.aspx/RetrieveRecFile"), auth=(a, p), timeout=30,
        params={"sExtension": "201", "dtCallDateTime": '"2026-01-01 10:00:00"'})),
    "console sign-in": ("alice", "alicf", console_signin),
    "Callbutton XML service (partner)": ("partner1", "partnerX", lambda live: lambda a, p: requests.post(
        live.url("/cb/main/jsp/xml/xml.jsp"), data=request_doc("8005551234"), auth=(a, p), timeout=30)),
    "Callbutton recording URL (partner)": ("partner1", "partnerX", lambda live: lambda a, p: requests.get(
        live.url("/cb/main/jsp/mates/cBEventCallRecordingURL.jsp"), params={"id": "1"}, auth=(a, p), timeout=30)),
    "Callbutton GET binding (partner)": ("partner1", "partnerX", lambda live: lambda a, p: requests.get(
        live.url("/rest/calldata/GetCallDetails"), timeout=30,
        params={"username": a, "password": p, "clientCode": "8005551234"})),
    "Buzzeasy REST (company password)": ("1", "99999", lambda live: lambda a, p: requests.post(
        live.url("/RequestCallbackService/Service.svc/rest/RequestCallWhenAvailable"), timeout=30,
        json={"company": a, "password": p, "serviceQueue": 1, "name": "N", "phoneNo": "+442079460123"})),
    "Buzzeasy GET binding (company password)": ("1", "99999", lambda live: lambda a, p: requests.get(
        live.url("/rest/callback/GetEWTByServiceID"), timeout=30,
        params={"companyID": a, "password": p, "serviceQueueID": 1})),
    "BuzzMeInfo (company password)": ("1", "99999", lambda live: lambda a, p: requests.get(
        live.url("/BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin"), timeout=30,
        params={"pin": "123456", "companyId": a, "password": p})),
    "agent API token": ("alice", "alicf", lambda live: lambda a, p: requests.post(
        live.url("/webservices/services/token"), json={"username": a, "password": p}, timeout=30,
        headers={"Content-Type": "application/json"})),
    "agent SOAP GetToken": ("alice", "alicf", lambda live: lambda a, p: requests.post(
        live.url("/soap/agent"), timeout=30, headers={"Content-Type": "text/xml; charset=utf-8"},
        data=('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
              f'<GetToken xmlns="urn:callsuite:agent:1"><username>{a}</username><password>{p}</password>'
              "</GetToken></s:Body></s:Envelope>").encode())),
}


def _seen(response: requests.Response, account: str) -> tuple:
    """What a client sees, with the account's own name (echoed by some seeds) masked."""
    def mask(text: str) -> str:
        text = re.sub(r"Expires=[^;]*", "Expires=<time>", text)  # a cookie's expiry moves with the clock
        return text if account.isdigit() else re.sub(rf"\b{re.escape(account)}\b", "<account>", text)
    headers = sorted((k.lower(), mask(v)) for k, v in response.headers.items() if k.lower() not in IGNORED_HEADERS)
    return response.status_code, headers, mask(response.content.decode("utf-8", "replace"))


@pytest.mark.parametrize("surface", list(SURFACES))
def test_a_wrong_password_and_an_unknown_account_look_the_same(live, surface):
    known, unknown, build = SURFACES[surface]
    attempt = build(live)
    answers, costs = [], []
    for account in (known, unknown):
        before = verifications(live)
        response = attempt(account, "not-the-password")
        costs.append(verifications(live) - before)
        answers.append(_seen(response, account))
    assert answers[0][0] in (200, 400, 401, 500), answers[0]  # refused in the surface's own way
    assert answers[0] == answers[1]
    assert costs == [1, 1], f"argon2 verifications (known account, unknown account): {costs}"
