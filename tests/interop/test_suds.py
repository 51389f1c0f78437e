"""suds (suds-community) accepts the WSDL each SOAP service serves (recording, call-data)
and calls it through the SOAP 1.1 port, over real HTTP.

suds speaks SOAP 1.1 only: it reads a soap12 binding as if it were a SOAP 1.1 one, so
the tests bind the WSDL's SOAP 1.1 port by name. Acceptance means: suds loads the served
document (no cache) without logging a warning or an error, maps every operation with its
parameters and every complex type, posts SOAP 1.1 envelopes to the address the server
filled in, and decodes the expected results and faults; every answer's body also
validates against the authored xsd/<service>.xsd.
"""
import itertools
import logging
from datetime import datetime

import pytest
from helpers.soap import assert_valid_response
from lxml import etree
from suds import WebFault
from suds.client import Client
from suds.plugin import MessagePlugin

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
recording_only = pytest.mark.parametrize("service", ["recording"], indirect=True)
calldata_only = pytest.mark.parametrize("service", ["calldata"], indirect=True)
ids = itertools.count(1)


class Exchanges(MessagePlugin):
    """Keeps the last request and answer; validates every answer against xsd/."""

    def __init__(self, xsd_name: str) -> None:
        self.xsd_name = xsd_name
        self.last_sent = self.last_reply = None
        self.validated = 0

    def sending(self, context):
        self.last_sent = etree.fromstring(bytes(context.envelope))

    def received(self, context):
        self.last_reply = context.reply
        assert_valid_response(context.reply, self.xsd_name)
        self.validated += 1


@pytest.fixture(scope="module")
def loaded(live, service):
    """(client, exchanges, log records) for the service's WSDL, loaded once per module."""
    exchanges = Exchanges(service.xsd)
    handler = _Records()
    suds_log = logging.getLogger("suds")
    level = suds_log.level
    suds_log.addHandler(handler)
    suds_log.setLevel(logging.WARNING)
    try:
        client = Client(service.wsdl_url(live), cache=None, plugins=[exchanges])
    finally:
        suds_log.removeHandler(handler)
        suds_log.setLevel(level)
    return client, exchanges, handler.records


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def port(loaded, service):
    client, exchanges, _ = loaded
    port = client.service[service.ports["1.1"]]

    def call(operation: str, **args):
        exchanges.last_sent = exchanges.last_reply = None
        try:
            return getattr(port, operation)(**args)
        finally:
            if exchanges.last_reply is not None:  # else the transport's error is on its way
                # What suds sent was a SOAP 1.1 envelope, and the server answered in kind.
                assert etree.QName(exchanges.last_sent).namespace == SOAP11, etree.tostring(exchanges.last_sent)
                assert etree.QName(etree.fromstring(exchanges.last_reply)).namespace == SOAP11, exchanges.last_reply

    call.exchanges = exchanges
    return call


# -- every service ------------------------------------------------------------------------

def test_wsdl_is_accepted_with_every_operation(loaded, live, service):
    client, _, records = loaded
    assert records == [], [record.getMessage() for record in records]
    (wsdl_service,) = client.wsdl.services
    assert wsdl_service.name == service.wsdl_service
    ports = {port.name: port for port in wsdl_service.ports}
    assert set(ports) == set(service.ports.values())
    # client.service.<operation> uses the first port: it must be the SOAP 1.1 one.
    assert wsdl_service.ports[0].name == service.ports["1.1"]
    port = ports[service.ports["1.1"]]
    assert set(port.methods) == set(service.operations)
    for name, method in port.methods.items():
        assert method.location == service.address(live)
        assert method.soap.style == "document" and method.soap.action == f'"{name}"'
        assert method.soap.input.body.wrapped and method.soap.input.body.use == "literal"
    # Wrapper elements become parameter lists; the named complex types are suds types.
    (description,) = client.sd
    mapped = {t[0].name for t in description.types}
    assert {name for name in service.types if name not in service.operations} <= mapped, mapped
    assert client.factory.create(f"{{{service.tns}}}{service.types[-1]}") is not None


def test_fault_with_a_clear_reason(port, service):
    case = service.fault
    with pytest.raises(WebFault) as caught:
        port(case.operation, **case.args)
    fault = caught.value.fault
    assert case.reason in fault.faultstring
    assert case.soap11_code_ok(fault.faultcode), fault


# -- recording ----------------------------------------------------------------------------

@recording_only
def test_add_link_with_no_active_call(port):
    assert port("AddLink", id=f"SUDS-{next(ids)}", host="WS-ALICE", activeCall=True) == "No Active Call"
    sent = port.exchanges.last_sent.find(".//{urn:callsuite:recording:1}activeCall")
    assert sent is not None and sent.text == "true"


@recording_only
def test_add_link_pending_is_null(port):
    assert port("AddLink", id=f"SUDS-{next(ids)}", host="WS-ALICE") is None
    assert port.exchanges.last_sent.find(".//{urn:callsuite:recording:1}activeCall") is None


@recording_only
def test_retrieve_rec_file_empty_string(port):
    before = port.exchanges.validated
    result = port("RetrieveRecFile", sExtension="201", dtCallDateTime="2011-10-10 18:52:00")
    # suds reads an empty xs:string element as None; the wire carries "" (present, not nil).
    assert result in ("", None)
    assert port.exchanges.validated == before + 1  # the schema requires RetrieveRecFileResult
    element = etree.fromstring(port.exchanges.last_reply).find(".//{urn:callsuite:recording:1}RetrieveRecFileResult")
    assert element is not None and element.get(XSI_NIL) is None and (element.text or "") == ""


# -- call data ----------------------------------------------------------------------------

@calldata_only
def test_get_call_details(port, calldata):
    # suds writes the datetime objects itself.
    query = calldata.query(datetimes=True)
    report = port("GetCallDetails", **query)
    start = port.exchanges.last_sent.find(".//{urn:callsuite:calldata:1}startDate").text
    assert datetime.fromisoformat(start.replace("Z", "+00:00")) == query["startDate"], start
    calldata.check({
        "Username": report.Username, "ClientAddress": report.ClientAddress,
        "Clients": [{"ClientCode": client.ClientCode,
                     "Calls": [{name: value for name, value in call} for call in getattr(client.Calls, "Call", [])]}
                    for client in report.Clients.Client],
    })


@calldata_only
def test_client_codes_are_repeated_elements(port, calldata):
    args, refused = calldata.not_granted_query()
    with pytest.raises(WebFault) as caught:
        port("GetCallDetails", **args)
    assert len(port.exchanges.last_sent.findall(".//{urn:callsuite:calldata:1}clientCode")) == 2
    assert refused in caught.value.fault.faultstring
