"""The recording service's Spyne definition and its authored WSDL/XSD must not drift."""
from lxml import etree
from spyne.interface.wsdl import Wsdl11

from helpers.contracts import describe, differences
from services.recording.edge import build_soap


def spyne_view(app, address="http://localhost:8000/soap/recording"):
    wsdl = Wsdl11(app.interface)
    wsdl.build_interface_document(address)
    return describe(wsdl.get_interface_document())


def test_spyne_soap11_matches_authored_wsdl():
    soap = build_soap(system=None)
    authored = describe(soap.contract.inlined)
    spyne = spyne_view(soap.soap11_app)
    assert authored["targetNamespace"] == spyne["targetNamespace"]
    assert differences(authored["operations"], spyne["operations"]) == []
    assert differences(authored["bindings"]["soap11"], spyne["bindings"]["soap11"]) == []


def test_spyne_soap12_matches_authored_wsdl():
    soap = build_soap(system=None)
    authored = describe(soap.contract.inlined)
    spyne = spyne_view(soap.soap12_app)
    assert differences(authored["operations"], spyne["operations"]) == []
    assert differences(authored["bindings"]["soap12"], spyne["bindings"]["soap12"]) == []


def test_drift_is_detected():
    """The comparison itself can fail: a renamed field in the authored schema is reported."""
    soap = build_soap(system=None)
    tampered = etree.fromstring(etree.tostring(soap.contract.inlined).replace(b'name="refNum"', b'name="refNo"', 1))
    found = differences(describe(tampered)["operations"], spyne_view(soap.soap11_app)["operations"])
    assert any("refNo" in line or "refNum" in line for line in found)
