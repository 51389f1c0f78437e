"""Mounts BuzzMeInfo: SOAP at /BuzzMeInfo/InfoService.svc (and /soap/info), the seed's
REST GET URLs, and the generic GET/JSONP at /rest/info/{Operation}.

GET /BuzzMeInfo/InfoService.svc/rest/GetCallDataByNumber?presentedNumber=&companyId=&password=
GET /BuzzMeInfo/InfoService.svc/rest/GetCallDataByPin?pin=&companyId=&password=
The answer is the CallData object, bare (WCF webHttp), or `null` when no request matches.
The generic GET answers the same (Spyne's JSON would turn "no request" into an object of
nulls), with `callback=` for JSONP.
"""
from __future__ import annotations

from werkzeug.wrappers import Request, Response

from services.contracts import contracts_root
from services.core import callbacks
from services.http.jsonp import json_answer
from services.http.openapi import CALLBACK, JS, JSON, Operation, Param, nullable, obj, text
from services.http.routing import Route
from services.soap.contracts import AuthoredContract
from services.soap.endpoint import SoapService

from . import wire
from .soap import BuzzMeInfo

PREFIX = "/BuzzMeInfo/InfoService.svc/rest"
CHALLENGE = ("WWW-Authenticate", 'Buzzeasy realm="BuzzMeInfo"')


_STRING = {"type": "string"}
_FIELDS = {f"field{i}": _STRING for i in range(1, 11)}
_BY_NUMBER = obj({"CustomerName": _STRING, "UserPhoneNo": _STRING, "serviceQueueName": _STRING,
                  "Retries": {"type": "integer"}, **_FIELDS, "ConfirmationCode": _STRING, "ScheduledTime": _STRING})
_BY_PIN = obj({"CustomerName": _STRING, "UserPhoneNo": _STRING, "serviceQueue": {"type": "integer"},
               "Retries": {"type": "integer"}, **_FIELDS, "ConfirmationCode": _STRING, "TimeCalled": _STRING})
_COMPANY = (Param("companyId", schema={"type": "integer", "minimum": -2 ** 31, "maximum": 2 ** 31 - 1}),
            Param("password"), Param("callback", schema=CALLBACK))


def _operation(summary: str, key: str, answer: dict) -> Operation:
    return Operation(summary, params=(Param(key), *_COMPANY), tag="BuzzMeInfo",
                     responses={200: {JSON: nullable(answer), JS: _STRING}, 400: text(),
                                401: {JSON: _STRING, JS: _STRING}},
                     description="The company's password is a query parameter; no matching request: null.")


API = {"GetCallDataByNumber": _operation("The open callback request of a presented number", "presentedNumber",
                                         _BY_NUMBER),
       "GetCallDataByPin": _operation("The open callback request of a PIN", "pin", _BY_PIN)}


def build_soap(system) -> SoapService:
    contract = AuthoredContract(contracts_root() / "wsdl" / "info.wsdl")
    return SoapService("BuzzMeInfo", [BuzzMeInfo], contract, lambda: system)


class InfoRest:
    def __init__(self, system) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        return [Route(prefix + operation, handler, api=(API[operation],))
                for prefix in (PREFIX + "/", "/rest/info/")
                for operation, handler in (("GetCallDataByNumber", self.by_number), ("GetCallDataByPin", self.by_pin))]

    def _answer(self, request: Request, lookup, render, key: str) -> Response:
        args = request.args
        callback = args.get("callback")
        try:
            company = int(args["companyId"]) if args.get("companyId") else None
            if company is not None and not -2 ** 31 <= company < 2 ** 31:  # xs:int, as on SOAP
                raise ValueError
        except ValueError:
            return Response("companyId must be a whole number\n", status=400,
                            content_type="text/plain; charset=utf-8")
        caller = wire.caller(self.system, company, args.get("password"), request.remote_addr)
        try:
            with self.system.database.read_unit() as unit:
                answer = wire.without_nulls(render(lookup(unit, caller, args.get(key))))
        except callbacks.AuthenticationFailed as exc:
            response = json_answer(str(exc), callback, 401)
            if callback is None:
                response.headers[CHALLENGE[0]] = CHALLENGE[1]
            return response
        return json_answer(answer, callback)

    def by_number(self, request: Request) -> Response:
        return self._answer(request, callbacks.call_data_by_number, wire.by_number, "presentedNumber")

    def by_pin(self, request: Request) -> Response:
        return self._answer(request, callbacks.call_data_by_pin, wire.by_pin, "pin")


def routes(system) -> list[Route]:
    soap = build_soap(system)
    return [
        Route("/BuzzMeInfo/InfoService.svc", wsgi=soap.soap_endpoint, soap=True),
        Route("/soap/info", wsgi=soap.soap_endpoint, soap=True),
        *InfoRest(system).routes(),
    ]
