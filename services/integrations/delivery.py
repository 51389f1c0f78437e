"""HTTP delivery of outbox entries: the idempotency key and the optional signature on every
request, and error messages that name the target without secrets.

Headers on every attempt (GET, POST, SOAP alike):
- `Idempotency-Key`: the entry's key, the same on every attempt of that entry.
- With a company `hmac_secret`: `X-Callsuite-Timestamp` (Unix seconds) and
  `X-Callsuite-Signature: sha256=<hex>`, the HMAC-SHA256 under the secret of
  `<timestamp>.<body>`; a GET has no body, so its request target (path?query) is signed.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

_SECRET_NAME = re.compile(r"(?i)(pass|pwd|pin|token|secret|key|auth|sig|credential|session)")
IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Callsuite-Timestamp"
SIGNATURE_HEADER = "X-Callsuite-Signature"


class DeliveryError(Exception):
    """A delivery attempt failed; the message is safe to store and log."""


def safe_url(url: str) -> str:
    """The URL without userinfo and with password-like query values masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.hostname and ":" in parts.hostname:
            netloc = f"[{parts.hostname}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
        query = urlencode([(name, "***" if _SECRET_NAME.search(name) else value)
                           for name, value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparsable URL>"


def signature(secret: str, timestamp: str, content: bytes) -> str:
    """What a receiver recomputes to check `X-Callsuite-Signature`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + content, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class DeliveryAuth(requests.auth.AuthBase):
    """Adds the entry's headers to each request requests prepares (zeep's too)."""

    def __init__(self, idempotency_key: str, secret: Optional[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.idempotency_key = idempotency_key
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:  # never show the secret
        return f"DeliveryAuth({self.idempotency_key!r}, signed={self._secret is not None})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[IDEMPOTENCY_HEADER] = self.idempotency_key
        if self._secret:
            timestamp = str(int(self._clock()))
            body = request.body or b""
            if isinstance(body, str):
                body = body.encode()
            content = body if request.method != "GET" else request.path_url.encode()
            request.headers[TIMESTAMP_HEADER] = timestamp
            request.headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, content)
        return request


def http_request(session: requests.Session, method: str, url: str, timeout_s: float, *,
                 auth: Optional[DeliveryAuth] = None, **kwargs) -> requests.Response:
    """One request; any status outside 2xx, time-out or connection error is a DeliveryError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"not an http(s) URL: {safe_url(url)}")
    try:
        response = session.request(method, url, timeout=(min(timeout_s, 5.0), timeout_s), allow_redirects=True,
                                   auth=auth, **kwargs)
    except requests.Timeout:
        raise DeliveryError(f"timed out after {timeout_s:g} s: {method} {safe_url(url)}") from None
    except requests.RequestException as exc:
        # requests' own messages repeat the URL (query included): name the class only.
        raise DeliveryError(f"{type(exc).__name__}: {method} {safe_url(url)}") from None
    if not 200 <= response.status_code < 300:
        response.close()
        raise DeliveryError(f"HTTP {response.status_code} from {method} {safe_url(url)}")
    return response
