"""The agent service's Spyne definition and its authored WSDL/XSD must not drift."""
from lxml import etree

from helpers.contracts import drift
from services.agent.edge import build_soap


def test_spyne_soap11_matches_authored_wsdl():
    assert drift(build_soap(system=None), "soap11") == []


def test_spyne_soap12_matches_authored_wsdl():
    assert drift(build_soap(system=None), "soap12") == []


def test_drift_is_detected():
    """The comparison itself can fail: a renamed field in the authored schema is reported."""
    soap = build_soap(system=None)
    tampered = etree.fromstring(etree.tostring(soap.contract.inlined).replace(b'name="CallID"', b'name="CallNo"', 1))
    assert any("CallNo" in line or "CallID" in line for line in drift(soap, "soap11", tampered))
