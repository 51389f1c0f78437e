"""SignalR connection tokens: the connection id, when it was issued, and an HMAC of both
under the key all server processes share (server_secrets), so a token can be neither
forged nor altered to name another connection, and any process can check it."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

MAX_AGE_S = 24 * 3600


class InvalidToken(ValueError):
    pass


class ConnectionTokens:
    def __init__(self, key: bytes, *, max_age_s: float = MAX_AGE_S) -> None:
        self._key = key
        self.max_age_s = max_age_s

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, b"signalr-connection|" + body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self) -> tuple[str, str]:
        """A new (connection id, connection token)."""
        connection_id = str(uuid.uuid4())
        body = f"{connection_id}:{int(time.time())}"
        return connection_id, f"{body}:{self._mac(body)}"

    def connection_id(self, token: str | None) -> str:
        """The connection a token names; InvalidToken if it was not issued here or is too old."""
        try:
            connection_id, issued, mac = (token or "").split(":")
            uuid.UUID(connection_id)
            issued_at = int(issued)
        except ValueError:
            raise InvalidToken("malformed") from None
        if not hmac.compare_digest(mac, self._mac(f"{connection_id}:{issued}")):
            raise InvalidToken("bad signature")
        if not -60 < time.time() - issued_at < self.max_age_s:
            raise InvalidToken("expired")
        return connection_id
