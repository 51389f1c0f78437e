"""Mounts the Buzzeasy Request Callback Service: SOAP at /RequestCallbackService/Service.svc
(and /soap/callback), the seed's REST URLs, and the generic GET/JSONP at
/rest/callback/{Operation}."""
from __future__ import annotations

from services.contracts import contracts_root
from services.http.routing import Route
from services.soap.contracts import AuthoredContract
from services.soap.endpoint import SoapService

from .rest import CallbackRest
from .soap import RequestCallbackService


def build_soap(system) -> SoapService:
    contract = AuthoredContract(contracts_root() / "wsdl" / "callback.wsdl")
    return SoapService("RequestCallbackService", [RequestCallbackService], contract, lambda: system)


def routes(system) -> list[Route]:
    soap = build_soap(system)
    return [
        Route("/RequestCallbackService/Service.svc", wsgi=soap.soap_endpoint, soap=True),
        Route("/soap/callback", wsgi=soap.soap_endpoint, soap=True),
        Route("/rest/callback/<path:operation>", wsgi=soap.rest_endpoint, mount_depth=2,
              api=soap.rest_api("/rest/callback", "callback")),
        *CallbackRest(system).routes(),
    ]
