"""Console sign-in sessions and CSRF tokens.

A session is a random token in an HttpOnly, SameSite=Strict cookie scoped to /console,
stored only as a hash in `auth_tokens` (salted with a console prefix so a console session
can never be used as an agent-API TokenKey, nor the other way round), with an expiry.
Every POST carries a CSRF token derived from the session token (from a pre-session cookie
on the sign-in form).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete
from werkzeug.wrappers import Request, Response

from services.core.security import hash_token
from services.http.auth import signed_in
from storage.models import AuthToken, Company, User

SESSION_COOKIE = "callsuite_console"
PRESESSION_COOKIE = "callsuite_console_pre"
COOKIE_PATH = "/console"
SESSION_TTL = timedelta(hours=8)
MAX_COOKIE = 200


def session_hash(token: str) -> str:
    return hash_token("console-session:" + token)


def csrf_for(secret: str, purpose: str) -> str:
    return hmac.new(secret.encode(), f"callsuite-console-csrf:{purpose}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, secret: Optional[str], purpose: str) -> bool:
    sent = request.form.get("csrf", "")
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500 for a forged field).
    return bool(secret) and bool(sent) and hmac.compare_digest(sent.encode(), csrf_for(secret, purpose).encode())


class Viewer:
    """The signed-in user, as the pages need it (plain values, no ORM objects)."""

    def __init__(self, user: User, token: str, zone: ZoneInfo) -> None:
        self.id = user.id
        self.username = user.username
        self.full_name = user.full_name
        self.extension = user.extension
        self.global_listening = user.global_listening
        self.company_id = user.company_id
        self.token = token
        self.zone = zone  # the user's company's time zone, else the server's

    @property
    def scope(self) -> Optional[str]:
        """The extension whose links and calls this user sees; None means all."""
        return None if self.global_listening else self.extension

    @property
    def sees_anything(self) -> bool:
        return self.global_listening or bool(self.extension)

    def sees_extension(self, extension: Optional[str]) -> bool:
        return self.global_listening or (bool(self.extension) and extension == self.extension)


class Sessions:
    def __init__(self, database, *, default_zone: ZoneInfo, public_base_url: Optional[str]) -> None:
        self.database = database
        self.default_zone = default_zone
        self.public_base_url = public_base_url or ""

    def viewer(self, request: Request) -> Optional[Viewer]:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > MAX_COOKIE:
            return None
        now = datetime.now(timezone.utc)
        with self.database.session() as session:
            row = session.get(AuthToken, session_hash(token))
            if row is None or row.expires_at <= now:
                return None
            user = session.get(User, row.user_id)
            if user is None:
                return None
            company = session.get(Company, user.company_id) if user.company_id is not None else None
            signed_in(request.environ, user.username)
            return Viewer(user, token, self._zone(company.timezone if company else None))

    def _zone(self, name: Optional[str]) -> ZoneInfo:
        try:
            return ZoneInfo(name) if name else self.default_zone
        except (ZoneInfoNotFoundError, ValueError):
            return self.default_zone

    def presession(self, request: Request) -> Optional[str]:
        value = request.cookies.get(PRESESSION_COOKIE)
        return value if value and len(value) <= MAX_COOKIE else None

    def set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        secure = request.scheme == "https" or self.public_base_url.startswith("https:")
        response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                            samesite="Strict", secure=secure)

    def start(self, user_id: int, token: str) -> None:
        now = datetime.now(timezone.utc)
        with self.database.session() as session:
            session.execute(delete(AuthToken).where(AuthToken.user_id == user_id, AuthToken.expires_at < now))
            session.add(AuthToken(token_hash=session_hash(token), user_id=user_id, issued_at=now,
                                  expires_at=now + SESSION_TTL))

    def end(self, token: str) -> None:
        with self.database.session() as session:
            session.execute(delete(AuthToken).where(AuthToken.token_hash == session_hash(token)))
