"""The call-data service's Spyne definition and its authored WSDL/XSD must not drift."""
from lxml import etree

from helpers.contracts import drift
from services.calldata.edge import build_soap


def test_spyne_soap11_matches_authored_wsdl():
    soap = build_soap(system=None)
    assert soap.contract.target_namespace == "urn:callsuite:calldata:1"
    assert soap.contract.operations() == ["GetCallDetails"]
    assert drift(soap, "soap11") == []


def test_spyne_soap12_matches_authored_wsdl():
    assert drift(build_soap(system=None), "soap12") == []


def test_authored_wsdl_declares_only_what_it_binds():
    soap = build_soap(system=None)
    root = soap.contract.tree.getroot()
    bindings = {etree.QName(child).namespace for b in root.iter("{http://schemas.xmlsoap.org/wsdl/}binding")
                for child in b if etree.QName(child).localname == "binding"}
    assert bindings == {"http://schemas.xmlsoap.org/wsdl/soap/", "http://schemas.xmlsoap.org/wsdl/soap12/"}
    # the inlined schema compiles (what strict clients read)
    types = soap.contract.inlined.find("{http://schemas.xmlsoap.org/wsdl/}types")
    etree.XMLSchema(etree.fromstring(etree.tostring(types[0])))


def test_drift_is_detected():
    """The comparison itself can fail: renamed or re-typed fields in the authored schema are reported."""
    soap = build_soap(system=None)
    source = etree.tostring(soap.contract.inlined)
    for old, new, needle in ((b'name="clientCode"', b'name="clientCodes"', "clientCode"),
                             (b'name="TalkTime" type="xs:int"', b'name="TalkTime" type="xs:long"', "xs:long"),
                             (b'name="Journal" type="xs:string" minOccurs="0"', b'name="Journal" type="xs:string"',
                              "minOccurs")):
        assert old in source, old
        tampered = etree.fromstring(source.replace(old, new, 1))
        found = drift(soap, "soap11", tampered)
        assert found and any(needle in line for line in found), (old, found)
