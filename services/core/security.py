"""Password and token hashing. Nothing secret is ever stored or logged in clear."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps timing uniform.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class _Counter:
    def __init__(self) -> None:
        self._value, self._lock = 0, threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        return self._value


# argon2 verifications run by this process (a metric: every failed sign-in, of a known
# account or not, costs one, which is what keeps the two indistinguishable).
password_verifications = _Counter()


def verify_password(password_hash: str | None, password: str | None) -> bool:
    if password is None:
        return False
    password_verifications.add()
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class _VerifiedCache:
    """Remembers that a password matched a stored hash, so a media player's stream of Range
    requests does not pay argon2 (~0.2 s, 64 MB) on every request. Keyed by a digest of the
    hash and the password: a changed password misses the cache, so the answer an entry holds
    can never go stale, and an entry in use stays for as long as it is used (each hit starts
    its minute again) without argon2 running again. An entry unused for a minute goes: the
    digest it is kept under is fast to test guesses against, so it is kept no longer than
    the client that needs it. (Checking entries in use again in the background cost each
    active account one argon2 run every 45 s, and its clients' requests a CPU stall.)

    Requests that miss together (a client's parallel connections) share one argon2 check:
    the first runs it, the others wait for its answer instead of each running their own (8
    at once took seconds on 2 cores)."""

    def __init__(self, ttl_s: float = 60.0, size: int = 1024, clock=time.monotonic) -> None:
        self.ttl_s, self.size, self.clock = ttl_s, size, clock
        self._entries: dict[bytes, float] = {}
        self._checking: dict[bytes, "_Check"] = {}
        self._lock = threading.Lock()

    def check(self, password_hash: str, password: str) -> bool:
        key = hashlib.sha256(password_hash.encode() + b"\0" + password.encode()).digest()
        now = self.clock()
        with self._lock:
            expiry = self._entries.get(key)
            if expiry is not None and expiry > now:
                self._entries[key] = now + self.ttl_s
                return True
            running = self._checking.get(key)
            if running is None:
                running = self._checking[key] = _Check()
                mine = True
            else:
                mine = False
        if not mine:
            if running.done.wait(timeout=60):
                return running.matched
            return verify_password(password_hash, password)  # the first check hung: do our own
        self._verify(key, running, password_hash, password)
        return running.matched

    def _verify(self, key: bytes, running: "_Check", password_hash: str, password: str) -> None:
        try:
            running.matched = verify_password(password_hash, password)
        finally:
            with self._lock:
                del self._checking[key]
                if running.matched:
                    now = self.clock()
                    if len(self._entries) >= self.size:
                        self._entries = {k: v for k, v in self._entries.items() if v > now}
                        if len(self._entries) >= self.size:
                            self._entries.clear()
                    self._entries[key] = now + self.ttl_s
            running.done.set()


class _Check:
    """One argon2 check in progress, and its answer once `done` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.matched = False


_verified = _VerifiedCache()


def verify_password_cached(password_hash: str | None, password: str | None) -> bool:
    if password_hash is None or password is None:
        return verify_password(password_hash, password)  # same timing for unknown users
    return _verified.check(password_hash, password)


def password_matches_hash(password_hash: str | None, password: str) -> bool:
    """For idempotent provisioning: does the stored hash already hold this password?"""
    return verify_password(password_hash, password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are long random strings: a fast hash is enough and lets us look them up.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
