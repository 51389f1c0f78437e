"""Validate what a SOAP service answered against the authored xsd/."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[2]
ENVELOPES = {"http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"}


@lru_cache(maxsize=None)
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(REPO / "xsd" / name)))


def soap_body(envelope: bytes) -> etree._Element:
    root = etree.fromstring(envelope)
    assert etree.QName(root).namespace in ENVELOPES, f"not a SOAP envelope: {root.tag}"
    body = root.find(f"{{{etree.QName(root).namespace}}}Body")
    assert body is not None and len(body) == 1, "a SOAP Body with one child expected"
    return body[0]


def is_fault(envelope: bytes) -> bool:
    return etree.QName(soap_body(envelope)).localname == "Fault"


def assert_valid_response(envelope: bytes, xsd_name: str) -> etree._Element:
    """The Body's payload validates against xsd/<xsd_name> (faults are SOAP's own shape)."""
    payload = soap_body(envelope)
    if etree.QName(payload).localname == "Fault":
        return payload
    validator = schema(xsd_name)
    if not validator.validate(payload):
        raise AssertionError(f"response does not validate against xsd/{xsd_name}: {validator.error_log}")
    return payload


class ValidatingPlugin:
    """A zeep plugin that validates every response body zeep receives against xsd/."""

    def __init__(self, xsd_name: str) -> None:
        self.xsd_name = xsd_name
        self.validated = 0

    def ingress(self, envelope, http_headers, operation):
        body = etree.tostring(envelope)
        assert_valid_response(body, self.xsd_name)
        self.validated += 1
        return envelope, http_headers

    def egress(self, envelope, http_headers, operation, binding_options):
        return envelope, http_headers


BMS = ("bms", "demo-bms-pw")  # the demo site's user with global listening rights


def zeep_client(wsdl_url: str, *, auth=BMS, xsd_name: str = "recording.xsd", **kwargs):
    """zeep over a requests session sending `auth` as HTTP Basic (None: no credentials),
    validating every answer against xsd/<xsd_name> (client.validated counts them)."""
    import requests
    import zeep
    from zeep.transports import Transport

    session = requests.Session()
    session.auth = auth
    plugin = ValidatingPlugin(xsd_name)
    client = zeep.Client(wsdl_url, plugins=[plugin], transport=Transport(session=session), **kwargs)
    client.validated = plugin
    return client
