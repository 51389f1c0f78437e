"""The agent remote-control API (seed 004) at the seed's URLs:

POST /webservices/services/token                       username + password -> a token
GET  /webservices/services/telephony/{method}/user/{UserID}/...   with Cookie: TokenKey=<token>

Every answer is a CallActionResponse, XML unless the request's Content-Type or Accept is
application/json. login and logout are beyond the seed, in its style.
"""
from __future__ import annotations

import functools
import logging
from typing import Callable, Optional

from werkzeug.wrappers import Request, Response

from services.contracts import contracts_root
from services.core import agent_errors, agents
from services.core.agent_desk import AgentDesk
from services.core.agents import Disposition
from services.core.errors import CallsuiteError
from services.http.auth import signed_in
from services.http.errors import UNKNOWN, kind_of
from services.http.openapi import JSON, Operation, Param, obj
from services.http.routing import Route
from services.http.wsgi import BadJson, parse_json
from services.soap.access import token_key
from services.soap.contracts import AuthoredContract
from services.soap.endpoint import SoapService
from storage.models import ID_MAX

from . import wire
from .soap import FORBIDDEN_FAULT, UNAUTHORIZED_FAULT, AgentService

log = logging.getLogger(__name__)
BASE = "/webservices/services/telephony"
# The seed's GETs that change something: a HEAD (a link checker, a preview) must not dial.
CHANGING = frozenset({"goready", "login", "logout", "connectcalls", "dial", "hangup", "dispose", "hold", "retrieve",
                      "stoprecord", "startrecord", "changelead", "createnewlead"})
CHALLENGE = 'TokenKey realm="Callsuite agent API"'


# --- the OpenAPI description: every method answers a CallActionResponse ------------------
_ANSWER = {"application/xml": {"type": "string", "description": "CallActionResponse of xsd/agent.xsd"},
           JSON: obj({"Success": {"type": "boolean"}, "Data": {}, "ResponseCode": {"type": "integer"},
                      "ResponseDetail": {"type": "string"}}, ["Success", "Data", "ResponseCode", "ResponseDetail"])}
_ANSWERS = {status: _ANSWER for status in (200, 400, 401, 403, 404, 409, 429, 503)}
_ACCEPT = Param("Accept", "header", schema={"type": "string", "enum": ["application/json", "application/xml"]},
                description="application/json: answer in JSON (default XML)")
_USER_METHODS = {"getcalls": "the agent's calls", "goready": "make the agent ready", "campaigns": "campaigns",
                 "users": "users", "resultcodes": "result codes", "acdqueues": "ACD queues",
                 "login": "log the agent in to a campaign", "logout": "log the agent out",
                 "connectcalls": "bridge two calls and dispose both"}
_QUERY = {"login": (Param("campaign", required=True, schema={"type": "integer"}),),
          "dispose": (Param("resultcode", required=True),),
          "dial": (Param("leadid", schema={"type": "integer"}),),
          "connectcalls": tuple(Param(f"{name}{n}", required=name in ("call", "resultcode"),
                                      schema={"type": "integer"} if name in ("call", "numsales") else {"type": "string"})
                                for n in (1, 2) for name in ("call", "resultcode", "notes", "numsales"))}
_CALL_METHODS = ("hangup", "dispose", "hold", "retrieve", "stoprecord", "startrecord")


_USER_ID = {"type": "string", "minLength": 1, "pattern": "^[^/]+$", "examples": ["7"]}  # the demo's alice


def _method(summary: str, path: str, method: str = "") -> Operation:
    return Operation(f"{summary} (seed 004)", path=BASE + path, tag="Agent API", responses=_ANSWERS,
                     params=(*_QUERY.get(method, ()), _ACCEPT), security=("agentToken",),
                     path_params={"user_id": _USER_ID})


API_TOKEN = Operation(
    "A token for a user's name and password (form or JSON)", tag="Agent API",
    body={"application/x-www-form-urlencoded": obj({"username": {"type": "string"}, "password": {"type": "string"}}),
          JSON: obj({"username": {"type": "string"}, "password": {"type": "string"}})},
    responses=_ANSWERS, params=(_ACCEPT,))
API_USER = tuple(_method(summary, f"/{name}/user/<user_id>", name) for name, summary in _USER_METHODS.items())
API_CALL = tuple(_method(f"{name} a call", f"/{name}/user/<user_id>/call/<call_id>", name) for name in _CALL_METHODS)


def _int(value: Optional[str], name: str, *, required: bool = True) -> Optional[int]:
    if value is None or value == "":
        if required:
            raise agent_errors.BadInput(f"{name} is required")
        return None
    text = value.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 18:
        raise agent_errors.BadInput(f"{name} must be a whole number")
    number = int(text)
    if not -ID_MAX - 1 <= number <= ID_MAX:  # ids and counts are 32-bit integer columns
        raise agent_errors.BadInput(f"{name} is out of range")
    return number


def _status(exc: CallsuiteError) -> int:
    # A refusal of the agent's state machine that is none of the shared kinds is a conflict.
    status, _ = kind_of(exc)
    return 409 if (status, _) == UNKNOWN else status


class AgentApi:
    def __init__(self, system) -> None:
        self.system = system
        self.desk: AgentDesk = system.agent_desk

    def routes(self) -> list[Route]:
        user = BASE + "/<any({}):method>/user/<user_id>"
        call = BASE + "/<any({}):method>/user/<user_id>/call/<call_id>"
        return [
            Route("/webservices/services/token", self.token, methods=("POST",), api=(API_TOKEN,)),
            Route(user.format(",".join(_USER_METHODS)), self.on_user, api=API_USER),
            Route(BASE + "/dial/user/<user_id>/phone/<phone>", self.dial,
                  api=(_method("dial a number", "/dial/user/<user_id>/phone/<phone>", "dial"),)),
            Route(call.format(",".join(_CALL_METHODS)), self.on_call, api=API_CALL),
            Route(BASE + "/leadphones/user/<user_id>/lead/<lead_id>", self.lead_phones,
                  api=(_method("a lead's phones", "/leadphones/user/<user_id>/lead/<lead_id>"),)),
            Route(BASE + "/changelead/user/<user_id>/call/<call_id>/leadphone/<lead_phone_id>", self.change_lead,
                  api=(_method("move a call to another lead phone",
                               "/changelead/user/<user_id>/call/<call_id>/leadphone/<lead_phone_id>"),)),
            Route(BASE + "/createnewlead/user/<user_id>/call/<call_id>/phone/<phone>", self.create_new_lead,
                  api=(_method("a new lead for a call", "/createnewlead/user/<user_id>/call/<call_id>/phone/<phone>"),)),
            Route(BASE + "/<path:anything_else>", self.unknown,
                  api=(Operation("any other method: 404 with a CallActionResponse", tag="Agent API",
                                 responses=_ANSWERS, params=(_ACCEPT,)),)),
        ]

    # --- answering ---------------------------------------------------------------------

    def _answer(self, request: Request, answer: wire.Answer, status: int = 200, headers=()) -> Response:
        if wire.wants_json([request.headers.get("Content-Type"), request.headers.get("Accept")]):
            body, content_type = answer.json(), wire.JSON_TYPE
        else:
            body, content_type = answer.xml(), wire.XML_TYPE
        response = Response(body, status=status, content_type=content_type,
                            headers={"Cache-Control": "no-store", **dict(headers)})
        return response

    def _refused(self, request: Request, exc: CallsuiteError) -> Response:
        status = _status(exc)
        headers = []
        if status == 401:
            headers.append(("WWW-Authenticate", CHALLENGE))
        if status == 429:
            headers.append(("Retry-After", str(max(1, int(exc.retry_after_s + 0.999)))))
        return self._answer(request, wire.Answer(False, agent_errors.response_code(exc), str(exc)), status, headers)

    def _run(self, request: Request, work: Callable[[], object]) -> Response:
        if request.method == "HEAD" and request.path[len(BASE) + 1:].split("/", 1)[0] in CHANGING:
            return Response("", status=405, headers={"Allow": "GET"})
        try:
            data = work()
        except CallsuiteError as exc:
            log.info("agent API %s refused: %s", request.path, exc)
            return self._refused(request, exc)
        return self._answer(request, wire.Answer(True, 0, "OK", data))

    def _actor(self, request: Request):
        actor = self.desk.actor(token_key(request.environ), request.remote_addr or "")
        signed_in(request.environ, actor.username)
        return actor

    # --- tokens ------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        return self._run(request, lambda: self._sign_in(request))

    def _sign_in(self, request: Request):
        username, password = _credentials(request)
        try:
            token, user_id, expires = self.desk.sign_in(username, password, request.remote_addr or "")
        except agent_errors.SignInFailed:
            log.info("agent API sign-in refused for %r", str(username)[:100])
            raise
        return wire.token_entity(token, user_id, expires)

    # --- methods -----------------------------------------------------------------------

    def on_user(self, request: Request, method: str, user_id: str) -> Response:
        def work():
            uid = _int(user_id, "UserID")
            actor = self._actor(request)
            desk = self.desk
            if method == "getcalls":
                return [wire.call_entity(c) for c in desk.calls(actor, uid)]
            if method == "goready":
                return wire.agent_entity(desk.run(agents.go_ready, actor, uid))
            if method == "login":
                campaign = _int(request.args.get("campaign"), "campaign")
                return wire.agent_entity(desk.run(agents.login, actor, uid, campaign))
            if method == "logout":
                return wire.agent_entity(desk.run(agents.logout, actor, uid))
            if method == "campaigns":
                return [wire.campaign_entity(c) for c in desk.read(agents.campaigns, actor, uid)]
            if method == "users":
                return [wire.user_entity(u) for u in desk.read(agents.users, actor, uid)]
            if method == "resultcodes":
                return [wire.result_code_entity(r) for r in desk.read(agents.result_codes, actor, uid)]
            if method == "acdqueues":
                return [wire.acd_queue_entity(q) for q in desk.read(agents.acd_queues, actor, uid)]
            return [wire.call_entity(c) for c in desk.connect(actor, uid, *_connect_args(request))]
        return self._run(request, work)

    def unknown(self, request: Request, anything_else: str) -> Response:
        method = anything_else.split("/", 1)[0]
        return self._answer(request, wire.Answer(False, agent_errors.NoSuchThing.code, f"no method {method!r} at this URL: "
                                                 "see /webservices/services/telephony/{method}/user/{UserID}/..."), 404)

    def dial(self, request: Request, user_id: str, phone: str) -> Response:
        def work():
            uid = _int(user_id, "UserID")
            lead = _int(request.args.get("leadid"), "leadid", required=False)
            return wire.call_entity(self.desk.dial(self._actor(request), uid, phone, lead))
        return self._run(request, work)

    def on_call(self, request: Request, method: str, user_id: str, call_id: str) -> Response:
        def work():
            uid, cid = _int(user_id, "UserID"), _int(call_id, "CallID")
            actor = self._actor(request)
            if method == "dispose":
                disposition = Disposition(request.args.get("resultcode", ""))
                return wire.call_entity(self.desk.dispose(actor, uid, cid, disposition))
            operation = {"hangup": self.desk.hangup, "hold": self.desk.hold, "retrieve": self.desk.retrieve,
                         "stoprecord": self.desk.stop_record, "startrecord": self.desk.start_record}[method]
            return wire.call_entity(operation(actor, uid, cid))
        return self._run(request, work)

    def lead_phones(self, request: Request, user_id: str, lead_id: str) -> Response:
        def work():
            uid, lid = _int(user_id, "UserID"), _int(lead_id, "LeadID")
            return [wire.lead_phone_entity(p) for p in self.desk.read(agents.lead_phones, self._actor(request), uid, lid)]
        return self._run(request, work)

    def change_lead(self, request: Request, user_id: str, call_id: str, lead_phone_id: str) -> Response:
        def work():
            uid, cid, lpid = _int(user_id, "UserID"), _int(call_id, "CallID"), _int(lead_phone_id, "LeadPhoneID")
            return wire.call_entity(self.desk.change_lead(self._actor(request), uid, cid, lpid))
        return self._run(request, work)

    def create_new_lead(self, request: Request, user_id: str, call_id: str, phone: str) -> Response:
        def work():
            uid, cid = _int(user_id, "UserID"), _int(call_id, "CallID")
            return wire.call_entity(self.desk.create_new_lead(self._actor(request), uid, cid, phone))
        return self._run(request, work)


def _connect_args(request: Request) -> tuple[tuple[int, Disposition], tuple[int, Disposition]]:
    args = request.args

    def leg(n: int) -> tuple[int, Disposition]:
        # The seed's URL shows `&notes1=` as `¬es1=` (an HTML entity eaten by its
        # typesetting): both spellings are read.
        notes = args.get(f"notes{n}", args.get(f"\u00aces{n}"))
        return _int(args.get(f"call{n}"), f"call{n}"), Disposition(
            args.get(f"resultcode{n}", ""), notes=notes, num_sales=_int(args.get(f"numsales{n}"), f"numsales{n}",
                                                                        required=False))
    return leg(1), leg(2)


def _credentials(request: Request) -> tuple[object, object]:
    if wire.wants_json([request.headers.get("Content-Type")]):
        try:
            document = parse_json(request.get_data(cache=False) or b"{}")
        except BadJson:  # malformed, nested too deep, or a number out of range
            raise agent_errors.BadInput("the body is not JSON") from None
        if not isinstance(document, dict):
            raise agent_errors.BadInput("the body must be a JSON object with username and password")
    else:
        document = request.form
    fields = {str(k).lower(): v for k, v in document.items()}
    return fields.get("username"), fields.get("password")


def build_soap(system) -> SoapService:
    contract = AuthoredContract(contracts_root() / "wsdl" / "agent.wsdl")
    return SoapService("AgentService", [AgentService], contract, lambda: system)


def _fault_codes(code: str) -> tuple[bytes, bytes]:
    """A fault code as SOAP 1.1 and GET write it (`Client.Unauthorized`) and as SOAP 1.2
    writes its subcode (`cs:Unauthorized`, services/soap/endpoint.py CallsuiteSoap12)."""
    return code.encode(), f"cs:{code.split('.', 1)[1]}".encode()


def _token_refusals_as_401(app):
    """Spyne answers every fault with 500 (SOAP 1.1) or 400 (SOAP 1.2, GET/JSON); a token
    refusal is an HTTP refusal too: 401 with WWW-Authenticate (403 for another agent's user)."""
    @functools.wraps(app)  # still names its SoapService (the access walk finds it so)
    def wrapped(environ, start_response):
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(app(environ, capture))
        status, headers = captured["status"], list(captured["headers"])
        if not status.startswith(("200", "429")):  # 429: too many wrong tokens, with its Retry-After
            if any(code in body for code in _fault_codes(UNAUTHORIZED_FAULT)):
                status = "401 Unauthorized"
                headers.append(("WWW-Authenticate", CHALLENGE))
            elif any(code in body for code in _fault_codes(FORBIDDEN_FAULT)):
                status = "403 Forbidden"
        start_response(status, headers)
        return [body]
    return wrapped


def routes(system) -> list[Route]:
    soap = build_soap(system)
    return [
        Route("/soap/agent", wsgi=_token_refusals_as_401(soap.soap_endpoint), soap=True),
        Route("/rest/agent/<path:operation>", wsgi=_token_refusals_as_401(soap.rest_endpoint), mount_depth=2,
              api=soap.rest_api("/rest/agent", "agent")),
        *AgentApi(system).routes(),
    ]
