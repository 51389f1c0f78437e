"""The callback and info services' Spyne definitions and their authored WSDL/XSD must not drift."""
import pytest
from lxml import etree

from helpers.contracts import drift
from services.callback.edge import build_soap as build_callback
from services.info.edge import build_soap as build_info


@pytest.mark.parametrize("build", [build_callback, build_info], ids=["callback", "info"])
@pytest.mark.parametrize("protocol", ["soap11", "soap12"])
def test_spyne_matches_authored_wsdl(build, protocol):
    assert drift(build(system=None), protocol) == []


def test_drift_is_detected():
    soap = build_callback(system=None)
    tampered = etree.fromstring(etree.tostring(soap.contract.inlined).replace(
        b'name="TimeSlotID"', b'name="TimeSlotId"', 1))
    assert any("TimeSlotI" in line for line in drift(soap, "soap11", tampered))
