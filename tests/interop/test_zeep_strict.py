"""zeep in strict mode accepts the WSDL each SOAP service serves (recording, call-data)
and calls its deterministic operations through both of its ports (SOAP 1.1 and SOAP 1.2),
over real HTTP.

Acceptance means: zeep loads the served document with `strict=True` (no lax schema
handling), finds both ports with the right SOAP version at the address the server filled
in, sends its own envelopes there, and parses every answer (results, nil, faults) without
complaint; each answer's body also validates against the authored xsd/<service>.xsd.
"""
import gc
import itertools
from datetime import datetime

import pytest
import zeep
from helpers.soap import ValidatingPlugin
from lxml import etree
from zeep.plugins import HistoryPlugin
from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
REC = "urn:callsuite:recording:1"
PORTS = {
    "1.1": (Soap11Binding, "http://schemas.xmlsoap.org/soap/envelope/", "text/xml"),
    "1.2": (Soap12Binding, "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml"),
}
recording_only = pytest.mark.parametrize("service", ["recording"], indirect=True)
calldata_only = pytest.mark.parametrize("service", ["calldata"], indirect=True)
ids = itertools.count(1)


@pytest.fixture(params=sorted(PORTS), ids=lambda v: f"soap{v}")
def port(request, live, service):
    """(service proxy, history, validator, version) for one port of the served WSDL."""
    version = request.param
    binding_class, envelope_ns, content_type = PORTS[version]
    port_name = service.ports[version]
    history = HistoryPlugin()
    validator = ValidatingPlugin(service.xsd)
    client = zeep.Client(service.wsdl_url(live), settings=zeep.Settings(strict=True),
                         plugins=[history, validator])
    proxy = client.bind(service.wsdl_service, port_name)
    assert isinstance(proxy._binding, binding_class), f"{port_name} should be a {binding_class.__name__}"
    assert proxy._binding_options["address"] == service.address(live)
    yield proxy, history, validator, version
    # A keep-alive connection left open holds the live server's waitress loop (and the
    # module's teardown) for its 10 s join timeout. After a fault, the connection is held
    # by the exception's traceback cycle until a collection, so collect, then close.
    gc.collect()
    client.transport.session.close()


def last_exchange(history, version):
    """The last request/response envelopes, checked to be of the port's SOAP version."""
    _, envelope_ns, content_type = PORTS[version]
    sent, received = history.last_sent, history.last_received
    assert etree.QName(sent["envelope"]).namespace == envelope_ns
    assert sent["http_headers"]["Content-Type"].startswith(content_type)
    assert etree.QName(received["envelope"]).namespace == envelope_ns
    return sent["envelope"], received["envelope"]


def result_element(envelope, operation, tns=REC):
    response = envelope.find(f".//{{{tns}}}{operation}Response")
    assert response is not None, f"no {operation}Response in {etree.tostring(envelope)!r}"
    return response.find(f"{{{tns}}}{operation}Result")


# -- every service ------------------------------------------------------------------------

def test_strict_zeep_reads_both_ports(live, service):
    client = zeep.Client(service.wsdl_url(live), settings=zeep.Settings(strict=True))
    client.transport.session.close()
    wsdl_service = client.wsdl.services[service.wsdl_service]
    assert set(wsdl_service.ports) == set(service.ports.values())
    for version, (binding_class, _, _) in PORTS.items():
        port = wsdl_service.ports[service.ports[version]]
        assert isinstance(port.binding, binding_class)
        assert set(port.binding._operations) == set(service.operations)
        assert port.binding_options["address"] == service.address(live)
        for name in service.operations:
            operation = port.binding._operations[name]
            assert operation.style == "document"
            assert operation.soapaction == name
            assert operation.input.body.qname == etree.QName(service.tns, name)
            assert operation.output.body.qname == etree.QName(service.tns, f"{name}Response")


def test_fault_with_a_clear_reason(port, service):
    proxy, history, validator, version = port
    case = service.fault
    with pytest.raises(zeep.exceptions.Fault) as caught:
        getattr(proxy, case.operation)(**case.args)
    assert case.reason in caught.value.message
    # A caller's mistake: SOAP 1.1 Client.<kind>, SOAP 1.2 Sender.
    if version == "1.1":
        assert case.soap11_code_ok(caught.value.code), caught.value.code
    else:
        assert "Sender" in caught.value.code
    last_exchange(history, version)


def test_soap12_fault_subcode_is_namespace_qualified(live, service):
    """SOAP 1.2 fault codes are QNames; a Subcode's Value must be namespace-qualified.

    JAX-WS (SAAJ) refuses an unqualified one ("SAAJ0432: A Subcode must be
    namespace-qualified") and throws a WebServiceException instead of the fault, and gSOAP
    reports it as `"":NotFound`.
    """
    history = HistoryPlugin()
    client = zeep.Client(service.wsdl_url(live), settings=zeep.Settings(strict=True), plugins=[history])
    case = service.fault
    try:
        with pytest.raises(zeep.exceptions.Fault):
            getattr(client.bind(service.wsdl_service, service.ports["1.2"]), case.operation)(**case.args)
        _, received = last_exchange(history, "1.2")
    finally:
        gc.collect()
        client.transport.session.close()
    env = PORTS["1.2"][1]
    values = received.findall(f".//{{{env}}}Code//{{{env}}}Subcode/{{{env}}}Value")
    assert values, f"no Subcode to check in {etree.tostring(received).decode()}"
    for value in values:
        prefix, _, local = value.text.strip().rpartition(":")
        assert prefix and value.nsmap.get(prefix) and local, (
            f"Subcode value {value.text!r} is not a namespace-qualified QName: "
            f"{etree.tostring(value).decode()}")
        assert local == case.code


# -- recording ----------------------------------------------------------------------------

@recording_only
def test_add_link_with_no_active_call(port):
    proxy, history, validator, version = port
    result = proxy.AddLink(id=f"ZEEP-{version}-{next(ids)}", host="WS-ALICE", activeCall=True)
    assert result == "No Active Call"
    _, received = last_exchange(history, version)
    assert result_element(received, "AddLink").text == "No Active Call"
    assert validator.validated >= 1


@recording_only
def test_add_link_pending_is_nil(port):
    proxy, history, validator, version = port
    result = proxy.AddLink(id=f"ZEEP-{version}-{next(ids)}", host="WS-ALICE")
    assert result is None
    sent, received = last_exchange(history, version)
    assert sent.find(f".//{{{REC}}}activeCall") is None, "zeep should omit an unset optional element"
    element = result_element(received, "AddLink")
    assert element is None or element.get(XSI_NIL) == "true"


@recording_only
def test_retrieve_rec_file_empty_string(port):
    proxy, history, validator, version = port
    result = proxy.RetrieveRecFile(sExtension="201", dtCallDateTime="2011-10-10 18:52:00")
    # zeep reads an empty xs:string element as None; the wire must carry "" (present, not nil).
    assert result in ("", None)
    _, received = last_exchange(history, version)
    element = result_element(received, "RetrieveRecFile")
    assert element is not None, "RetrieveRecFileResult is required"
    assert element.get(XSI_NIL) is None and (element.text or "") == ""
    assert validator.validated >= 1


# -- call data ----------------------------------------------------------------------------

@calldata_only
def test_get_call_details(port, calldata):
    proxy, history, validator, version = port
    report = proxy.GetCallDetails(**calldata.query(datetimes=True))
    sent, received = last_exchange(history, version)
    start = sent.find(".//{urn:callsuite:calldata:1}startDate").text
    assert datetime.fromisoformat(start.replace("Z", "+00:00")) == calldata.query(datetimes=True)["startDate"], start
    assert result_element(received, "GetCallDetails", tns="urn:callsuite:calldata:1") is not None
    assert validator.validated >= 1
    calldata.check({
        "Username": report.Username, "ClientAddress": report.ClientAddress,
        "Clients": [{"ClientCode": client.ClientCode,
                     # zeep reads an empty <Calls/> as None
                     "Calls": [dict(call.__values__) for call in (client.Calls.Call if client.Calls else [])]}
                    for client in report.Clients.Client],
    })


@calldata_only
def test_client_codes_are_repeated_elements(port, calldata):
    proxy, history, validator, version = port
    args, refused = calldata.not_granted_query()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        proxy.GetCallDetails(**args)
    sent, _ = last_exchange(history, version)
    assert len(sent.findall(".//{urn:callsuite:calldata:1}clientCode")) == 2
    assert refused in caught.value.message
