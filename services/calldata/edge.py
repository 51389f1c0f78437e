"""Mounts the call-data service (Callbutton, seed 002): the seed-exact URLs
(POST /cb/main/jsp/xml/xml.jsp and the recording URL), SOAP at /soap/calldata and the
generic GET/JSONP at /rest/calldata/{Operation}."""
from __future__ import annotations

from services.contracts import contracts_root
from services.http.routing import Route
from services.soap.contracts import AuthoredContract
from services.soap.endpoint import SoapService

from .access import REALM
from .soap import CallDataService
from .xml_service import CallbuttonXmlService


def build_soap(system) -> SoapService:
    contract = AuthoredContract(contracts_root() / "wsdl" / "calldata.wsdl")
    return SoapService("CallDataService", [CallDataService], contract, lambda: system, realm=REALM)


def routes(system) -> list[Route]:
    soap = build_soap(system)
    return [
        Route("/soap/calldata", wsgi=soap.soap_endpoint, soap=True),
        Route("/rest/calldata/<path:operation>", wsgi=soap.rest_endpoint, mount_depth=2,
              api=soap.rest_api("/rest/calldata", "calldata")),
        *CallbuttonXmlService(system).routes(),
    ]
