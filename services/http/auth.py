"""Reading credentials from a request, and the challenge that asks for them: the one
place every edge parses Authorization and cookies for sign-in."""
from __future__ import annotations

import base64
import binascii
from typing import Callable, Optional, TypeVar

from services.core import recordings
from services.core.calldetails import address_allowed
from services.core.errors import Unauthorized
from storage.units import StatementUnit

T = TypeVar("T")
MAX_CREDENTIAL = 1024  # longer user names, passwords or tokens are refused unread


def _authorization(environ: dict, scheme: str) -> Optional[str]:
    header = environ.get("HTTP_AUTHORIZATION") or ""
    given, _, value = header.strip().partition(" ")
    if given.lower() != scheme or not value.strip():
        return None
    return value.strip()


def basic_credentials(environ: dict) -> Optional[tuple[str, str]]:
    """(user, password) from `Authorization: Basic`, or None when there are none (or they
    cannot be read). UTF-8, falling back to Latin-1 as older clients send it."""
    value = _authorization(environ, "basic")
    if value is None or len(value) > 4 * MAX_CREDENTIAL:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep or "\x00" in text:  # no account has a NUL in its name or password (PostgreSQL holds none)
        return None
    return user, password


def bearer_token(environ: dict) -> Optional[str]:
    value = _authorization(environ, "bearer")
    return value if value is not None and len(value) <= MAX_CREDENTIAL and "\x00" not in value else None


def challenge(realm: str) -> list[tuple[str, str]]:
    """The header that asks for Basic credentials (SOAP::Lite, .NET, Java only send them then)."""
    return [("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"')]


def retry_after(seconds: int) -> list[tuple[str, str]]:
    return [("Retry-After", str(max(1, int(seconds))))]


LISTENER_SURFACE = "basic"  # MP3, PlayByPhone and the recording service share one account and limit


USER = "callsuite.user"  # environ: who the request acts for (the audit log's user)


def signed_in(environ: dict, who: str) -> None:
    """Remember who this request acts for (the audit log credits its actions to them)."""
    environ[USER] = who


def client_address(environ: dict) -> str:
    return environ.get("REMOTE_ADDR") or ""


def listener(system, environ: dict):
    """The user of the request's Basic credentials (listening rights are checked per
    recording by the caller). Raises Unauthorized, or TooManyAttempts after too many
    failures."""
    return listener_reading(system, environ, None)[0]


def listener_reading(system, environ: dict, read: Optional[Callable[[StatementUnit], T]]) -> tuple[object, Optional[T]]:
    """`listener`, and `read(session)` run in the sign-in's own read unit (after the
    account's look-up, before the password is checked; its answer is dropped if the sign-in
    fails): a request that reads one thing for its user takes one unit. `read` runs prepared
    statements only, which need not agree with each other (Database.read_unit)."""
    credentials = basic_credentials(environ)
    if credentials is None:
        raise Unauthorized("credentials required")
    username, password = credentials
    if len(username) > MAX_CREDENTIAL or len(password) > MAX_CREDENTIAL:
        raise Unauthorized("credentials too long")
    user, value = system.throttle.authenticate(
        system.database, LISTENER_SURFACE, username, client_address(environ),
        lambda session: (recordings.user_named(session, username), read(session) if read is not None else None),
        lambda found: (recordings.verified_user(found[0], password), found[1]))
    signed_in(environ, user.username)
    return user, value


def listener_unless_from(system, environ: dict, networks) -> object:
    """None for a client inside `networks` (no credentials needed); else `listener`."""
    if address_allowed(networks, client_address(environ)):
        return None
    return listener(system, environ)
