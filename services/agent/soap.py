"""The agent remote control over SOAP 1.1/1.2 (/soap/agent) and GET/JSON (/rest/agent/...):
the seed's methods as operations, on the same AgentDesk as the seed URLs.

Types come from the authored xsd/agent.xsd (spyne's schema parser); tests/contracts checks
that the service Spyne publishes agrees with wsdl/agent.wsdl. The token is the TokenKey
element or, as on the seed URLs, the TokenKey cookie. A token refusal (none, unknown,
expired, another agent's user) is a SOAP Fault with HTTP 401 or 403; every other refusal
is an unsuccessful answer with the same ResponseCode as on the seed URLs.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from spyne import Fault, Integer32, Long, ServiceBase, Unicode, rpc
from spyne.util.xml import parse_schema_file

from services.contracts import contracts_root
from services.core import agent_errors, agents
from services.core.agents import Disposition
from services.core.errors import CallsuiteError, Forbidden, Unauthorized
from services.http.auth import signed_in
from services.soap.access import OPEN, caller, environ_of, token
from services.soap.faults import soap_operation
from services.soap.types import optional, required

from . import wire

TNS = wire.NS
_SCHEMA = parse_schema_file(str(contracts_root() / "xsd" / "agent.xsd"))[TNS]
T = _SCHEMA.types  # the authored complex types, by name
UNAUTHORIZED_FAULT = "Client.Unauthorized"
FORBIDDEN_FAULT = "Client.Forbidden"

Token, User, Call = optional(Unicode), required(Integer32), required(Integer32)


def _spyne(value: Any) -> Any:
    """A wire entity (services.agent.wire) as an instance of the authored Spyne type."""
    if isinstance(value, tuple):
        name, fields = value
        cls = T[name]
        return cls(**{k: _field(v, cls._type_info[k]) for k, v in fields.items()})
    return value


def _field(value: Any, cls) -> Any:
    if isinstance(value, wire.Obj):
        return cls()
    if isinstance(value, list):
        return cls(Item=list(value))
    return value


def _answer(kind: str, list_of: Optional[str], work: Callable[[], Any]):
    cls = T[kind]
    try:
        data = work()
    except Unauthorized as exc:
        raise _token_fault(exc) from None
    except Forbidden as exc:
        raise Fault(FORBIDDEN_FAULT, f"{agent_errors.response_code(exc)}: {exc}") from None
    except CallsuiteError as exc:
        return cls(Success=False, ResponseCode=agent_errors.response_code(exc), ResponseDetail=str(exc))
    if list_of is not None:
        holder = T[f"{list_of}List"]
        data = holder(**{list_of: [_spyne(item) for item in data]})
    else:
        data = _spyne(data)
    return cls(Success=True, Data=data, ResponseCode=0, ResponseDetail="OK")


def _desk(ctx):
    return ctx.udc.agent_desk


def _token_fault(exc: Exception) -> Fault:
    return Fault(UNAUTHORIZED_FAULT, f"{agent_errors.response_code(exc)}: {exc}")


# Every operation but GetToken (the sign-in) acts as the agent whose token it carries.
def _actor(ctx, key):
    actor = _desk(ctx).actor(key, environ_of(ctx).get("REMOTE_ADDR") or "")
    signed_in(environ_of(ctx), actor.username)
    return actor


TOKEN = token(_actor, _token_fault)


def _run(ctx, kind: str, list_of: Optional[str], work: Callable[[Any, Any], Any]):
    return _answer(kind, list_of, lambda: work(_desk(ctx), caller(ctx)))


def _result(kind: str):
    return required(T[kind])


class AgentService(ServiceBase):
    @rpc(required(Unicode), required(Unicode), _args=("username", "password"), _returns=_result("TokenAnswer"))
    @soap_operation(access=OPEN)
    def GetToken(ctx, username, password):
        address = (getattr(ctx.transport, "req_env", None) or {}).get("REMOTE_ADDR", "")
        return _answer("TokenAnswer", None,
                       lambda: wire.token_entity(*_desk(ctx).sign_in(username, password, address)))

    @rpc(Token, User, required(Integer32), _args=("TokenKey", "UserID", "CampaignID"), _returns=_result("AgentAnswer"))
    @soap_operation(access=TOKEN)
    def Login(ctx, TokenKey, UserID, CampaignID):
        return _run(ctx, "AgentAnswer", None,
                    lambda d, a: wire.agent_entity(d.run(agents.login, a, UserID, CampaignID)))

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("AgentAnswer"))
    @soap_operation(access=TOKEN)
    def Logout(ctx, TokenKey, UserID):
        return _run(ctx, "AgentAnswer", None, lambda d, a: wire.agent_entity(d.run(agents.logout, a, UserID)))

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("AgentAnswer"))
    @soap_operation(access=TOKEN)
    def GoReady(ctx, TokenKey, UserID):
        return _run(ctx, "AgentAnswer", None,
                    lambda d, a: wire.agent_entity(d.run(agents.go_ready, a, UserID)))

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("CallsAnswer"))
    @soap_operation(access=TOKEN)
    def GetCalls(ctx, TokenKey, UserID):
        return _run(ctx, "CallsAnswer", "Call",
                    lambda d, a: [wire.call_entity(c) for c in d.calls(a, UserID)])

    @rpc(Token, User, required(Unicode), optional(Long), _args=("TokenKey", "UserID", "PhoneNum", "LeadID"),
         _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def Dial(ctx, TokenKey, UserID, PhoneNum, LeadID):
        return _run(ctx, "CallAnswer", None, lambda d, a: wire.call_entity(d.dial(a, UserID, PhoneNum, LeadID)))

    @rpc(Token, User, Call, _args=("TokenKey", "UserID", "CallID"), _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def Hangup(ctx, TokenKey, UserID, CallID):
        return _run(ctx, "CallAnswer", None, lambda d, a: wire.call_entity(d.hangup(a, UserID, CallID)))

    @rpc(Token, User, Call, required(Unicode), _args=("TokenKey", "UserID", "CallID", "ResultCode"),
         _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def Dispose(ctx, TokenKey, UserID, CallID, ResultCode):
        return _run(ctx, "CallAnswer", None,
                    lambda d, a: wire.call_entity(d.dispose(a, UserID, CallID, Disposition(ResultCode))))

    @rpc(Token, User, Call, _args=("TokenKey", "UserID", "CallID"), _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def Hold(ctx, TokenKey, UserID, CallID):
        return _run(ctx, "CallAnswer", None, lambda d, a: wire.call_entity(d.hold(a, UserID, CallID)))

    @rpc(Token, User, Call, _args=("TokenKey", "UserID", "CallID"), _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def Retrieve(ctx, TokenKey, UserID, CallID):
        return _run(ctx, "CallAnswer", None, lambda d, a: wire.call_entity(d.retrieve(a, UserID, CallID)))

    @rpc(Token, User, Call, _args=("TokenKey", "UserID", "CallID"), _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def StopRecord(ctx, TokenKey, UserID, CallID):
        return _run(ctx, "CallAnswer", None, lambda d, a: wire.call_entity(d.stop_record(a, UserID, CallID)))

    @rpc(Token, User, Call, _args=("TokenKey", "UserID", "CallID"), _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def StartRecord(ctx, TokenKey, UserID, CallID):
        return _run(ctx, "CallAnswer", None, lambda d, a: wire.call_entity(d.start_record(a, UserID, CallID)))

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("CampaignsAnswer"))
    @soap_operation(access=TOKEN)
    def Campaigns(ctx, TokenKey, UserID):
        return _run(ctx, "CampaignsAnswer", "Campaign",
                    lambda d, a: [wire.campaign_entity(c) for c in d.read(agents.campaigns, a, UserID)])

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("UsersAnswer"))
    @soap_operation(access=TOKEN)
    def Users(ctx, TokenKey, UserID):
        return _run(ctx, "UsersAnswer", "AgentNameIDPair",
                    lambda d, a: [wire.user_entity(u) for u in d.read(agents.users, a, UserID)])

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("ResultCodesAnswer"))
    @soap_operation(access=TOKEN)
    def ResultCodes(ctx, TokenKey, UserID):
        return _run(ctx, "ResultCodesAnswer", "ResultCode",
                    lambda d, a: [wire.result_code_entity(r) for r in d.read(agents.result_codes, a, UserID)])

    @rpc(Token, User, _args=("TokenKey", "UserID"), _returns=_result("ACDQueuesAnswer"))
    @soap_operation(access=TOKEN)
    def AcdQueues(ctx, TokenKey, UserID):
        return _run(ctx, "ACDQueuesAnswer", "ACDQueue",
                    lambda d, a: [wire.acd_queue_entity(q) for q in d.read(agents.acd_queues, a, UserID)])

    @rpc(Token, User, required(Long), _args=("TokenKey", "UserID", "LeadID"), _returns=_result("LeadPhonesAnswer"))
    @soap_operation(access=TOKEN)
    def LeadPhones(ctx, TokenKey, UserID, LeadID):
        return _run(ctx, "LeadPhonesAnswer", "LeadPhone",
                    lambda d, a: [wire.lead_phone_entity(p) for p in d.read(agents.lead_phones, a, UserID, LeadID)])

    @rpc(Token, User, Call, required(Long), _args=("TokenKey", "UserID", "CallID", "LeadPhoneID"),
         _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def ChangeLead(ctx, TokenKey, UserID, CallID, LeadPhoneID):
        return _run(ctx, "CallAnswer", None,
                    lambda d, a: wire.call_entity(d.change_lead(a, UserID, CallID, LeadPhoneID)))

    @rpc(Token, User, Call, required(Unicode), _args=("TokenKey", "UserID", "CallID", "PhoneNum"),
         _returns=_result("CallAnswer"))
    @soap_operation(access=TOKEN)
    def CreateNewLead(ctx, TokenKey, UserID, CallID, PhoneNum):
        return _run(ctx, "CallAnswer", None,
                    lambda d, a: wire.call_entity(d.create_new_lead(a, UserID, CallID, PhoneNum)))

    @rpc(Token, User, required(Integer32), required(Integer32), required(Unicode), required(Unicode),
         optional(Unicode), optional(Unicode), optional(Integer32), optional(Integer32),
         _args=("TokenKey", "UserID", "Call1ID", "Call2ID", "ResultCode1", "ResultCode2", "Notes1", "Notes2",
                "NumSales1", "NumSales2"), _returns=_result("CallsAnswer"))
    @soap_operation(access=TOKEN)
    def ConnectCalls(ctx, TokenKey, UserID, Call1ID, Call2ID, ResultCode1, ResultCode2, Notes1, Notes2, NumSales1,
                     NumSales2):
        first = (Call1ID, Disposition(ResultCode1, notes=Notes1, num_sales=NumSales1))
        second = (Call2ID, Disposition(ResultCode2, notes=Notes2, num_sales=NumSales2))
        return _run(ctx, "CallsAnswer", "Call",
                    lambda d, a: [wire.call_entity(c) for c in d.connect(a, UserID, first, second)])
