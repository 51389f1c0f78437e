"""The agent API's refusals (seed 004), one per reason, each with the ResponseCode the API
answers with; each is also a domain error kind, so the shared error table maps it."""
from __future__ import annotations

from .errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized, Unavailable


class AgentError:
    """Mixed into the domain error kinds: `code` is the ResponseCode the API answers with."""
    code = 1


class BadInput(AgentError, InvalidInput):
    code = 1


class NoSuchThing(AgentError, NotFound):
    code = 2


class TokenMissing(AgentError, Unauthorized):
    code = 10


class TokenInvalid(AgentError, Unauthorized):
    code = 11


class SignInFailed(AgentError, Unauthorized):
    code = 12


class NotYourAgent(AgentError, Forbidden):
    code = 14


class NotLoggedIn(AgentError, Conflict):
    code = 20


class OnCall(AgentError, Conflict):
    code = 21


class Wrapping(AgentError, Conflict):
    code = 22


class CampaignInactive(AgentError, Conflict):
    code = 23


class CallNotConnected(AgentError, Conflict):
    code = 30


class CallAlreadyHeld(AgentError, Conflict):
    code = 31


class CallNotHeld(AgentError, Conflict):
    code = 32


class CallEnded(AgentError, Conflict):
    code = 33


class NotYourCall(AgentError, Forbidden):
    code = 34


class UnknownResultCode(AgentError, InvalidInput):
    code = 35


class CallDisposed(AgentError, Conflict):
    code = 36


class NotRecorded(AgentError, Conflict):
    code = 37


class NotBridgeable(AgentError, Conflict):
    code = 38


class SwitchRefused(AgentError, Conflict):
    """The switch itself refused (the call changed under us between check and action)."""
    code = 39


class SwitchDown(AgentError, Unavailable):
    code = 40


class NotControllable(AgentError, Conflict):
    """The call came from a PBX through CTI ingest: this server's switch cannot act on it."""
    code = 41


TOO_MANY_ATTEMPTS = 13  # the sign-in throttle's TooManyAttempts (it carries retry_after_s)


def response_code(exc: Exception) -> int:
    if getattr(exc, "retry_after_s", None) is not None:
        return TOO_MANY_ATTEMPTS
    return exc.code if isinstance(exc, AgentError) else 1
