"""Sign-in rate limiting, the same for every credentialed surface.

Two rules, both counted over the last `window_s` seconds in the database (table
signin_failures), so every server process sharing it counts together:

* one (surface, account, address): after `max_failures` failed sign-ins that address may
  not try that account on that surface again until the oldest of them leaves the window;
* one address, whatever the accounts and surfaces (password spraying): after
  `max_address_failures` failures that address may not sign in at all for a while.

An address is an IPv4 address or an IPv6 /64 network (`client_key`).

There is deliberately no limit per account alone: a stranger elsewhere could then lock a
real user out by failing on purpose. A refused attempt does not check the password and
is not counted (the attacker cannot lengthen the wait, and gets no answer either way).
A success clears that (surface, account, address)'s failures.

Concurrent attempts that pass `check` together may all be counted, so an attacker can go
over the limit by at most the number of requests the server runs at once.
"""
from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional, TypeVar

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from storage.models import SigninFailure
from storage.statements import Prepared
from storage.units import StatementUnit, UnitOfWork

from .errors import CallsuiteError, Unauthorized

T = TypeVar("T")
L = TypeVar("L")
MAX_ACCOUNT = 200
MAX_ADDRESS = 64


# Every sign-in runs one of these (built once: only the parameters vary).
_FAILURES = SigninFailure.__table__
_RECENT_AT_ADDRESS = Prepared(
    select(_FAILURES.c.at, _FAILURES.c.surface, _FAILURES.c.account)
    .where(_FAILURES.c.address == bindparam("address"), _FAILURES.c.at > bindparam("since"))
    .order_by(_FAILURES.c.at.desc()).limit(bindparam("limit")))
_RECENT_OF_KEY = Prepared(
    select(_FAILURES.c.at)
    .where(_FAILURES.c.surface == bindparam("surface"), _FAILURES.c.account == bindparam("account"),
           _FAILURES.c.address == bindparam("address"), _FAILURES.c.at > bindparam("since"))
    .order_by(_FAILURES.c.at.desc()).limit(bindparam("limit")))


class TooManyAttempts(CallsuiteError):
    """Too many failed sign-ins: try again in `retry_after_s` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = max(1, int(retry_after_s))
        super().__init__(f"too many failed sign-ins: try again in {self.retry_after_s} seconds")


def client_key(address: Optional[str]) -> str:
    """Who a failure is counted against: the IPv4 address, or the IPv6 /64 network (one
    host is given a whole /64, so counting single IPv6 addresses would count nothing)."""
    text = (address or "").strip()
    try:
        parsed = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SigninThrottle:
    def __init__(self, *, max_failures: int = 5, max_address_failures: int = 30, window_s: float = 900,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.window = timedelta(seconds=window_s)
        self.clock = clock

    @staticmethod
    def _key(surface: str, account: Optional[str], address: Optional[str]) -> tuple[str, str, str]:
        return surface, (account or "")[:MAX_ACCOUNT], client_key(address)[:MAX_ADDRESS]

    def _recent(self, session: UnitOfWork, surface: str, account: str, address: str,
                now: datetime) -> tuple[list[datetime], list[datetime]]:
        """The failures in the window newest first: of this (surface, account, address), and
        of the address. One statement: an account's failures at an address are among the
        address's, and if the address has `max_address_failures` the rest do not matter."""
        since = now - self.window
        if self.max_address_failures <= 0:  # no spraying rule: only the key's own failures count
            rows = _RECENT_OF_KEY.all(session, {
                "surface": surface, "account": account, "address": address, "since": since,
                "limit": max(self.max_failures, 1)})
            return [at for (at,) in rows], []
        rows = _RECENT_AT_ADDRESS.all(session, {
            "address": address, "since": since,
            "limit": max(self.max_failures, self.max_address_failures)})
        return ([at for at, row_surface, row_account in rows if row_surface == surface and row_account == account],
                [at for at, _, _ in rows])

    def _wait(self, times: list[datetime], limit: int, now: datetime) -> Optional[float]:
        """Seconds until fewer than `limit` of these failures are in the window."""
        if limit <= 0 or len(times) < limit:
            return None
        return (times[limit - 1] + self.window - now).total_seconds()

    def check(self, session: UnitOfWork, surface: str, account: Optional[str], address: Optional[str]) -> int:
        """Raise TooManyAttempts if this address may not try this account now; else the
        number of recent failures of this (surface, account, address)."""
        surface, account, address = self._key(surface, account, address)
        now = self.clock()
        mine, spraying = self._recent(session, surface, account, address, now)
        waits = [w for w in (self._wait(mine, self.max_failures, now),
                             self._wait(spraying, self.max_address_failures, now)) if w is not None]
        if waits:
            raise TooManyAttempts(math.ceil(max(waits)))
        return len(mine)

    def failed(self, session: Session, surface: str, account: Optional[str], address: Optional[str]) -> None:
        surface, account, address = self._key(surface, account, address)
        now = self.clock()
        session.execute(delete(SigninFailure).where(SigninFailure.at <= now - self.window))
        session.add(SigninFailure(surface=surface, account=account, address=address, at=now))

    def succeeded(self, session: Session, surface: str, account: Optional[str], address: Optional[str]) -> None:
        surface, account, address = self._key(surface, account, address)
        where = (SigninFailure.surface == surface, SigninFailure.account == account,
                 SigninFailure.address == address)
        # Read first: a successful sign-in (every MP3 Range request) should not take a write lock.
        if session.scalar(select(func.count()).select_from(SigninFailure).where(*where)):
            session.execute(delete(SigninFailure).where(*where))

    # The Database, not a session: the password is checked (argon2, slow) between the read and the write.
    def authenticate(self, database, surface: str, account: Optional[str], address: Optional[str],
                     lookup: Callable[[StatementUnit], L], verify: Callable[[L], T]) -> T:
        """check and `lookup(session)` (the account, by prepared statements) in one read unit, then
        `verify(account)` (which raises Unauthorized for wrong credentials) outside any
        transaction (argon2 is slow), then record the outcome."""
        with database.read_unit() as session:  # prepared look-ups only; a failure counted meanwhile is harmless
            earlier_failures = self.check(session, surface, account, address)
            found = lookup(session)
        try:
            result = verify(found)
        except Unauthorized:
            with database.session() as session:
                self.failed(session, surface, account, address)
            raise
        if earlier_failures:  # nothing to clear otherwise: no write transaction
            with database.session() as session:
                self.succeeded(session, surface, account, address)
        return result

    @classmethod
    def from_settings(cls, settings) -> "SigninThrottle":
        return cls(max_failures=settings.signin_max_failures,
                   max_address_failures=settings.signin_max_address_failures,
                   window_s=settings.signin_window_s)
