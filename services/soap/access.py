"""Who may call an operation: one rule per operation, declared once with
`@soap_operation(access=...)` and so the same on SOAP 1.1, SOAP 1.2, GET and JSONP.

A rule takes the Spyne context, raises Unauthorized (or TooManyAttempts) to refuse, and
returns the caller (or None); the operation reads it with `caller(ctx)`.

Refusals: a rule that reads HTTP credentials (`http_credentials`) is refused with 401 and
a Basic challenge (and the fault as body), so challenge-driven clients (SOAP::Lite, .NET)
send them. An operation whose credentials are elements of the request (Callbutton's
GetCallDetails) is refused with its Client.Unauthorized fault under SOAP's own status:
a challenge for HTTP credentials it does not read would mislead, and gSOAP and suds read
no fault from a 401. An agent API operation (`token`) reads its TokenKey element or
cookie and is refused with its own fault, which the agent edge answers 401 with a TokenKey
challenge. After too many failures, either answers 429 with Retry-After.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from werkzeug.http import parse_cookie

from services.http import auth

Rule = Callable[[Any], Any]
_CALLER = "callsuite.caller"


def environ_of(ctx) -> dict:
    return getattr(ctx.transport, "req_env", None) or {}


def caller(ctx):
    return environ_of(ctx).get(_CALLER)


def OPEN(ctx) -> None:
    """Anyone (as the seed has it: AddLink)."""
    return None


def LISTENER(ctx):
    """HTTP Basic credentials of a user; the operation checks listening rights per recording."""
    return auth.listener(ctx.udc, environ_of(ctx))


LISTENER.http_credentials = True


def listener_or_networks(setting: str) -> Rule:
    """Clients in the networks of that setting without credentials; anyone else as LISTENER."""
    def rule(ctx):
        return auth.listener_unless_from(ctx.udc, environ_of(ctx), getattr(ctx.udc.settings, setting))

    rule.__name__ = f"listener_or_{setting}"
    rule.http_credentials = True
    return rule


def BODY_CREDENTIALS(ctx) -> None:
    """The request's own elements carry the credentials (Callbutton's partner, Buzzeasy's
    and BuzzMeInfo's company id and password); the operation checks them first and answers
    a refusal as its seed does (a result code, `false`, or a Client.Unauthorized fault)."""
    return None


TOKEN_KEY = "TokenKey"
MAX_TOKEN = 1024  # longer tokens are refused unread (as credentials are: services/http/auth.py)


def token_key(environ: dict, element: Optional[str] = None) -> Optional[str]:
    """The agent API's token: the TokenKey element when the request has one, else the
    `Cookie: TokenKey=` header the seed's URLs send. The one place a token is read."""
    if element:
        return element
    try:
        value = parse_cookie(environ.get("HTTP_COOKIE", "")).get(TOKEN_KEY)
    except UnicodeDecodeError:  # werkzeug reads the header as UTF-8: bytes that are not are no token
        return None
    # A NUL is no token character (and PostgreSQL cannot compare one).
    return value if value and "\x00" not in value and len(value) <= MAX_TOKEN else None


def token(resolve: Callable[[Any, Optional[str]], Any], fault: Callable[[Exception], Exception]) -> Rule:
    """An agent token (`token_key`) that `resolve(ctx, key)` turns into the acting user, or
    refuses by raising Unauthorized; `fault(exc)` is that refusal's SOAP fault, which the
    edge answers with 401 and its own TokenKey challenge (not a Basic one: the API takes
    no HTTP credentials)."""
    def rule(ctx):
        element = getattr(ctx.in_object, TOKEN_KEY, None) if ctx.in_object is not None else None
        return resolve(ctx, token_key(environ_of(ctx), element))

    rule.__name__ = "TOKEN"
    rule.token = True
    rule.fault = fault
    return rule


def admit(rule: Rule, ctx) -> None:
    environ = environ_of(ctx)
    environ[_CALLER] = rule(ctx)
