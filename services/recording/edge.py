"""Mounts the recording service: SOAP at /soap/recording (and Recall's .asmx path), the
generic GET/JSONP at /rest/recording/{Operation}, and the seed-exact URLs."""
from __future__ import annotations

from services.contracts import contracts_root
from services.http.routing import Route
from services.soap.contracts import AuthoredContract
from services.soap.endpoint import SoapService

from .bluebutler import REALM, BlueButler
from .recall import Recall
from .soap import RecordingService


def build_soap(system) -> SoapService:
    contract = AuthoredContract(contracts_root() / "wsdl" / "recording.wsdl")
    # blueButler's realm: the same credentials as MP3 playback, so a browser asks once.
    return SoapService("RecordingService", [RecordingService], contract, lambda: system, realm=REALM)


def routes(system) -> list[Route]:
    soap = build_soap(system)
    return [
        Route("/soap/recording", wsgi=soap.soap_endpoint, soap=True),
        Route("/RecallIPInterfaceWS/Recording.asmx", wsgi=soap.soap_endpoint, soap=True),
        Route("/rest/recording/<path:operation>", wsgi=soap.rest_endpoint, mount_depth=2,
              api=soap.rest_api("/rest/recording", "recording")),
        *BlueButler(system).routes(),
        *Recall(system).routes(),
    ]
