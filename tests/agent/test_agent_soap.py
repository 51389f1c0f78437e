"""The agent remote control over SOAP at /soap/agent (zeep, every response validated
against xsd/agent.xsd): the same session and the same refusals as the seed URLs, the
token as an element or the seed's cookie."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import zeep
from helpers.agent import AgentClient, wait_answered
from helpers.server import start_server
from helpers.soap import ValidatingPlugin, assert_valid_response
from zeep.exceptions import Fault
from zeep.transports import Transport

from storage.models import Call

PHP_CLIENT = Path(__file__).resolve().parents[1] / "interop" / "clients" / "php_call.php"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("agent-soap"), agent_answer_after_s=0.0)
    yield server
    server.stop()


def client(live, cookie=None, binding="AgentServiceSoap"):
    session = requests.Session()
    if cookie:
        session.headers["Cookie"] = f"TokenKey={cookie}"
    plugin = ValidatingPlugin("agent.xsd")
    c = zeep.Client(live.url("/soap/agent?wsdl"), plugins=[plugin], transport=Transport(session=session))
    return c.bind("AgentService", binding), plugin



@pytest.mark.parametrize("binding", ["AgentServiceSoap", "AgentServiceSoap12"])
def test_a_session_over_soap(live, binding):
    service, plugin = client(live, binding=binding)
    answer = service.GetToken(username="alice", password="demo-alice-pw")
    assert answer.Success and answer.ResponseCode == 0 and answer.Data.UserID == 7
    key = answer.Data.TokenKey
    assert service.Login(TokenKey=key, UserID=7, CampaignID=3).Data.AgentStateName == "logged_in"
    assert service.GoReady(TokenKey=key, UserID=7).Data.AgentState == 2
    call = service.Dial(TokenKey=key, UserID=7, PhoneNum="+442079460111").Data
    assert call.CustomerName == "Carol Customer"
    wait_answered(live, call.CallId)
    assert service.Hold(TokenKey=key, UserID=7, CallID=call.CallId).Data.CallState == 3
    refused = service.Hold(TokenKey=key, UserID=7, CallID=call.CallId)
    assert (refused.Success, refused.ResponseCode, refused.Data) == (False, 31, None)
    assert service.Retrieve(TokenKey=key, UserID=7, CallID=call.CallId).Data.CallState == 2
    assert service.StopRecord(TokenKey=key, UserID=7, CallID=call.CallId).Data.RecordingState == 2
    assert service.StartRecord(TokenKey=key, UserID=7, CallID=call.CallId).Data.RecordingState == 1
    assert [c.CallId for c in service.GetCalls(TokenKey=key, UserID=7).Data.Call] == [call.CallId]
    assert service.Hangup(TokenKey=key, UserID=7, CallID=call.CallId).Data.CallStatus == 2
    assert service.Dispose(TokenKey=key, UserID=7, CallID=call.CallId, ResultCode="SALE").Data.CallStatus == 3
    (campaign,) = service.Campaigns(TokenKey=key, UserID=7).Data.Campaign
    assert campaign.CampaignName == "Renewals" and campaign.ReadyUsers.Item == [7]
    assert [u.ID for u in service.Users(TokenKey=key, UserID=7).Data.AgentNameIDPair][:2] == [7, 8]
    assert "SALE" in [r.Code for r in service.ResultCodes(TokenKey=key, UserID=7).Data.ResultCode]
    assert [q.AcdName for q in service.AcdQueues(TokenKey=key, UserID=7).Data.ACDQueue] == ["Claims"]
    assert [p.RecordType for p in service.LeadPhones(TokenKey=key, UserID=7, LeadID=1).Data.LeadPhone] == [
        "Home", "Mobile"]
    assert service.Logout(TokenKey=key, UserID=7).Data.AgentStateName == "logged_out"
    assert plugin.validated >= 17
    with live.db.read_session() as session:
        assert session.get(Call, call.CallId).result_code == "SALE"


def test_the_seed_cookie_works_over_soap_and_the_api_sees_the_same_session(live):
    api = AgentClient(live, "bob", 9)
    service, _ = client(live, cookie=api.token)
    assert service.Login(UserID=9, CampaignID=3).Success
    assert api.do("getcalls").ok and api.do("goready").one["AgentStateName"] == "ready"
    first = service.Dial(UserID=9, PhoneNum="+442079460333").Data.CallId
    wait_answered(live, first)
    assert service.Hold(UserID=9, CallID=first).Success
    second = service.Dial(UserID=9, PhoneNum="+442079460444").Data.CallId
    wait_answered(live, second)
    bridged = service.ConnectCalls(UserID=9, Call1ID=first, Call2ID=second, ResultCode1="XFER", ResultCode2="SALE",
                                   Notes1="to the broker", NumSales2=1).Data.Call
    assert [c.CallStatus for c in bridged] == [3, 3]
    assert api.do("getcalls").entities == []
    with live.db.read_session() as session:
        ids = [session.get(Call, c).external_id for c in (first, second)]
    for switch_id in ids:
        live.system.switch.hangup(switch_id)
    assert service.Logout(UserID=9).Success


def test_token_refusals_are_faults_with_401(live):
    service, _ = client(live)
    with pytest.raises(Fault) as fault:
        service.GetCalls(UserID=7)
    assert fault.value.code.endswith("Unauthorized") and fault.value.message.startswith("10:")
    with pytest.raises(Fault) as fault:
        service.GetCalls(TokenKey="nope", UserID=7)
    assert fault.value.message.startswith("11:")
    key = service.GetToken(username="alice", password="demo-alice-pw").Data.TokenKey
    with pytest.raises(Fault) as fault:
        service.GetCalls(TokenKey=key, UserID=9)
    assert fault.value.code.endswith("Forbidden") and fault.value.message.startswith("14:")
    with pytest.raises(Fault) as fault:
        service.GetToken(username="alice", password="wrong")
    assert fault.value.code.endswith("Unauthorized") and fault.value.message.startswith("12:")

    envelope = (b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                b'<soap:Body><GetCalls xmlns="urn:callsuite:agent:1"><UserID>7</UserID></GetCalls></soap:Body>'
                b'</soap:Envelope>')
    r = requests.post(live.url("/soap/agent"), data=envelope, timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "GetCalls"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("TokenKey")
    assert_valid_response(r.content, "agent.xsd")


def test_the_same_operations_over_get_json(live):
    api = AgentClient(live, "alice", 7)
    r = requests.get(live.url("/rest/agent/Users"), params={"UserID": "7"}, timeout=10,
                     headers={"Cookie": f"TokenKey={api.token}"})
    assert r.status_code == 200 and r.json()["Success"] is True
    assert [u["ID"] for u in r.json()["Data"]["AgentNameIDPair"]][:2] == [7, 8]
    r = requests.get(live.url("/rest/agent/Users"), params={"UserID": "7"}, timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("TokenKey")
    assert r.json()["faultcode"] == "Client.Unauthorized"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_php_soapclient_from_the_wsdl_alone(live, version):
    """PHP's SoapClient (an independent client) reads the authored WSDL and runs a session."""
    php = shutil.which("php")
    if php is None:
        pytest.fail("php not found: install the Debian packages php-cli and php-soap (.ci/run does)")

    def call(operation: str, **args) -> dict:
        proc = subprocess.run([php, str(PHP_CLIENT), live.url("/soap/agent?wsdl"), operation, json.dumps(args),
                               version], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stdout + proc.stderr
        out = json.loads(proc.stdout)
        if out["ok"]:
            assert_valid_response(out["response"].encode(), "agent.xsd")
        return out

    key = call("GetToken", username="bob", password="demo-bob-pw")["result"]["Data"]["TokenKey"]
    assert call("Login", TokenKey=key, UserID=9, CampaignID=3)["result"]["Data"]["AgentStateName"] == "logged_in"
    calls = call("GetCalls", TokenKey=key, UserID=9)["result"]
    assert calls["Success"] is True and calls["Data"].get("Call", []) == []
    (campaign,) = call("Campaigns", TokenKey=key, UserID=9)["result"]["Data"]["Campaign"]
    assert campaign["CampaignName"] == "Renewals" and campaign["CallerID"] == "+18005551234"
    refused = call("GoReady", TokenKey=key, UserID=7)
    assert refused["ok"] is False and refused["fault"]["string"].startswith("14:")
    assert call("Logout", TokenKey=key, UserID=9)["result"]["ResponseCode"] == 0


def test_a_lead_id_beyond_what_a_row_id_holds_is_no_such_lead(live):
    # xs:long on the wire, 32-bit id columns on PostgreSQL: no row, never a driver overflow.
    service, plugin = client(live)
    key = service.GetToken(username="alice", password="demo-alice-pw").Data.TokenKey
    for lead in (2 ** 40, -(2 ** 40), 0):
        answer = service.LeadPhones(TokenKey=key, UserID=7, LeadID=lead)
        assert (answer.Success, answer.ResponseCode, answer.Data) == (False, 2, None), lead
    assert service.Login(TokenKey=key, UserID=7, CampaignID=3).Success
    assert service.GoReady(TokenKey=key, UserID=7).Success
    refused = service.Dial(TokenKey=key, UserID=7, PhoneNum="+442079460111", LeadID=2 ** 40)
    assert (refused.Success, refused.ResponseCode) == (False, 2)
    assert service.Logout(TokenKey=key, UserID=7).Success
    assert plugin.validated >= 8
