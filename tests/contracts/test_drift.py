"""Every SOAP service's Spyne definition and its authored WSDL/XSD must not drift, on both
SOAP versions; and the comparison itself can fail (a renamed field is reported)."""
import pytest
from helpers.contracts import drift
from lxml import etree

from services.agent.edge import build_soap as build_agent
from services.callback.edge import build_soap as build_callback
from services.calldata.edge import build_soap as build_calldata
from services.info.edge import build_soap as build_info
from services.recording.edge import build_soap as build_recording

# service: (its SoapService builder, an element name of its contract to rename)
SERVICES = {
    "recording": (build_recording, "refNum"),
    "calldata": (build_calldata, "clientCode"),
    "callback": (build_callback, "TimeSlotID"),
    "info": (build_info, "presentedNumber"),
    "agent": (build_agent, "CallID"),
}


@pytest.mark.parametrize("protocol", ["soap11", "soap12"])
@pytest.mark.parametrize("service", SERVICES)
def test_spyne_matches_the_authored_wsdl(service, protocol):
    build, _ = SERVICES[service]
    assert drift(build(system=None), protocol) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_renamed_field_is_reported(service):
    build, field = SERVICES[service]
    soap = build(system=None)
    source = etree.tostring(soap.contract.inlined)
    assert f'name="{field}"'.encode() in source, field
    tampered = etree.fromstring(source.replace(f'name="{field}"'.encode(), f'name="{field}X"'.encode(), 1))
    assert any(field in line for line in drift(soap, "soap11", tampered))


@pytest.mark.parametrize("service", SERVICES)
def test_the_wsdl_declares_only_what_it_binds(service):
    build, _ = SERVICES[service]
    soap = build(system=None)
    root = soap.contract.tree.getroot()
    bindings = {etree.QName(child).namespace for b in root.iter("{http://schemas.xmlsoap.org/wsdl/}binding")
                for child in b if etree.QName(child).localname == "binding"}
    assert bindings == {"http://schemas.xmlsoap.org/wsdl/soap/", "http://schemas.xmlsoap.org/wsdl/soap12/"}
    types = soap.contract.inlined.find("{http://schemas.xmlsoap.org/wsdl/}types")
    etree.XMLSchema(etree.fromstring(etree.tostring(types[0])))  # what strict clients compile


def test_a_retyped_or_loosened_field_is_reported():
    soap = build_calldata(system=None)
    source = etree.tostring(soap.contract.inlined)
    for old, new, needle in ((b'name="TalkTime" type="xs:int"', b'name="TalkTime" type="xs:long"', "xs:long"),
                             (b'name="Journal" type="xs:string" minOccurs="0"', b'name="Journal" type="xs:string"',
                              "minOccurs")):
        assert old in source, old
        found = drift(soap, "soap11", etree.fromstring(source.replace(old, new, 1)))
        assert found and any(needle in line for line in found), (old, found)
