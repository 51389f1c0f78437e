"""The HTTP composition: health, WSDL, SOAP plumbing, limits, errors."""
import requests
import zeep
from helpers.contracts import describe
from helpers.soap import is_fault, soap_body
from lxml import etree

from services.contracts import contracts_root
from services.soap.contracts import AuthoredContract

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def envelope(body: str, ns: str = SOAP11) -> bytes:
    return f'<?xml version="1.0"?><s:Envelope xmlns:s="{ns}"><s:Body>{body}</s:Body></s:Envelope>'.encode()


def test_health(live):
    response = requests.get(live.url("/health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "switch": "simulated"}


def test_served_wsdl_is_the_authored_one(live):
    for path in ("/soap/recording", "/RecallIPInterfaceWS/Recording.asmx"):
        response = requests.get(live.url(path) + "?wsdl")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/xml")
        served = etree.fromstring(response.content)
        authored = AuthoredContract(contracts_root() / "wsdl" / "recording.wsdl")
        assert describe(served) == describe(authored.inlined)
        # Only the address differs from the file on disk, and it is the one the client used.
        locations = {e.get("location") for e in served.iter("{*}address")}
        assert locations == {live.url(path)}
        assert response.content == authored.document_for(live.url(path))


def test_zeep_builds_a_client_from_the_served_wsdl(live):
    client = zeep.Client(live.url("/soap/recording?wsdl"))
    operations = set(client.service._binding._operations)
    assert operations == {"AddLink", "PlayByPhone", "LinkRecording", "GetRecordingInfo", "RetrieveRecFile",
                          "SearchRecordings"}
    soap12 = [p for s in client.wsdl.services.values() for p in s.ports.values() if "12" in p.name]
    assert soap12 and soap12[0].binding_options["address"] == live.url("/soap/recording")


def test_a_request_that_breaks_the_authored_schema_is_a_client_fault(live):
    # AddLink requires id; the authored schema says so.
    response = requests.post(live.url("/soap/recording"), data=envelope('<AddLink xmlns="urn:callsuite:recording:1"/>'),
                             headers={"Content-Type": "text/xml; charset=utf-8"})
    assert response.status_code == 500 and is_fault(response.content)
    fault = soap_body(response.content)
    assert "Client.SchemaValidation" in fault.findtext("faultcode")
    assert "id" in fault.findtext("faultstring")
    # The same over SOAP 1.2, told apart by Content-Type.
    response = requests.post(live.url("/soap/recording"),
                             data=envelope('<AddLink xmlns="urn:callsuite:recording:1"/>', SOAP12),
                             headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    assert is_fault(response.content)
    assert soap_body(response.content).find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value").text.endswith("Sender")


def test_dtds_and_entity_bombs_are_refused(live):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><GetRecordingInfo xmlns="urn:callsuite:recording:1">'
            '<refNum>&lol2;</refNum></GetRecordingInfo></s:Body></s:Envelope>')
    xxe = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><GetRecordingInfo xmlns="urn:callsuite:recording:1">'
           '<refNum>&x;</refNum></GetRecordingInfo></s:Body></s:Envelope>')
    for body in (bomb, xxe):
        response = requests.post(live.url("/soap/recording"), data=body, headers={"Content-Type": "text/xml"})
        assert is_fault(response.content)
        assert "must not contain a DTD" in response.text
        assert "root:" not in response.text


def test_oversized_bodies_get_413(live):
    limit = live.system.settings.max_body_bytes
    response = requests.post(live.url("/soap/recording"), data=b"x" * (limit + 1), headers={"Content-Type": "text/xml"})
    assert response.status_code == 413
    chunked = requests.post(live.url("/soap/recording"), data=iter([b"x" * (1024 * 1024)] * (limit // (1024 * 1024) + 2)),
                            headers={"Content-Type": "text/xml"})
    assert chunked.status_code == 413


def test_unknown_paths_and_methods_are_plain_errors(live):
    assert requests.get(live.url("/nope")).status_code == 404
    response = requests.put(live.url("/soap/recording"), data=b"x")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "Traceback" not in response.text


def test_jsonp_callback_names_are_checked(live):
    bad = requests.get(live.url("/rest/recording/GetRecordingInfo"), params={"refNum": "1", "callback": "alert(1)"})
    assert bad.status_code == 400 and "identifier" in bad.text
    good = requests.get(live.url("/rest/recording/GetRecordingInfo"), params={"refNum": "1", "callback": "cb.done"},
                        auth=("bms", "demo-bms-pw"))
    assert good.status_code == 200
    assert good.headers["Content-Type"].startswith("application/javascript")
    assert good.text.startswith("cb.done(") and good.text.endswith(");")


def test_malformed_soap_gets_a_fault_never_a_traceback(live):
    for body in (b"", b"not xml", b"<a>", b"<?xml version='1.0'?><x/>"):
        for content_type in ("text/xml", "application/soap+xml"):
            response = requests.post(live.url("/soap/recording"), data=body, headers={"Content-Type": content_type})
            assert is_fault(response.content), (body, response.text)
            assert "Traceback" not in response.text


def test_generic_get_errors_name_the_parameter(live):
    response = requests.get(live.url("/rest/recording/AddLink"))
    assert response.status_code == 400
    assert response.json()["faultstring"] == "AddLink.id member must occur at least 1 times."
    assert requests.get(live.url("/rest/recording/Nope")).status_code == 404


def test_faults_carry_no_empty_actor_or_role(live):
    body = '<GetRecordingInfo xmlns="urn:callsuite:recording:1"><refNum>0000000000</refNum></GetRecordingInfo>'
    soap11 = requests.post(live.url("/soap/recording"), data=envelope(body), headers={"Content-Type": "text/xml"},
                           auth=("bms", "demo-bms-pw"))
    fault = soap_body(soap11.content)
    assert fault.findtext("faultcode").endswith("Client.NotFound") and fault.find("faultactor") is None
    soap12 = requests.post(live.url("/soap/recording"), data=envelope(body, SOAP12),
                           headers={"Content-Type": "application/soap+xml"}, auth=("bms", "demo-bms-pw"))
    assert soap12.status_code == 400
    fault = soap_body(soap12.content)
    assert fault.find(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text").text == "no recording '0000000000'"
    assert fault.find(f"{{{SOAP12}}}Role") is None


def test_every_answer_carries_a_request_id(live):
    fresh = [requests.get(live.url(path)).headers["X-Request-Id"] for path in ("/health", "/no/such/route")]
    assert all(len(value) == 32 for value in fresh) and fresh[0] != fresh[1]
    assert requests.get(live.url("/health"), headers={"X-Request-Id": "bms-42.a"}).headers["X-Request-Id"] == "bms-42.a"
    forged = requests.get(live.url("/health"), headers={"X-Request-Id": "x\tInjected: 1" + "y" * 80})
    assert len(forged.headers["X-Request-Id"]) == 32 and "Injected" not in forged.headers  # replaced, not echoed
