"""The outer layers every request passes: error boundary, access log, body size limit."""
from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from typing import Callable, Optional

from services.core import audit
from storage.database import unavailable

from .auth import USER
from .errors import DATABASE_UNAVAILABLE, RETRY_AFTER_UNAVAILABLE_S, http_status, note_unavailable
from .wsgi import BodyTooLarge, plain_response

access_log = logging.getLogger("callsuite.access")
error_log = logging.getLogger("callsuite.errors")

# RFC 9110 Host: a DNS name (labels of 1-63 characters, 253 in all), an IPv4 address or
# a bracketed IPv6 literal, then an optional port. Anything else (a 64-character label
# makes werkzeug's IDNA encoding fail on every route) is the client's error: 400.
_HOST = re.compile(r"(?:(?=[^:]{1,253}(?::|$))(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
                   r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")

# Query parameters that carry secrets in the seeds' GET URLs (Buzzeasy passwords, PINs).
# A request id from the client (or a proxy) is kept when it is short and plain.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRET_PARAMS = re.compile(r"(?i)(^|&)(password|pwd|pin|token|tokenkey|access_token)=[^&]*")


class RequestIds:
    """Request ids: 32 hex digits, a random half per process and a counter. Unique, which
    is all an id must be; not a uuid4 per request, whose os.urandom gives up the GIL."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)  # next() is atomic under the GIL

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


def redact_query(query: str) -> str:
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", query)


def origin_of(environ: dict) -> audit.Origin:
    """Who acts in this request, for the audit log."""
    return audit.Origin(user=environ.get(USER), address=environ.get("REMOTE_ADDR"),
                        surface=f"{environ.get('REQUEST_METHOD', '-')} {environ.get('callsuite.route', '-')}",
                        binding=environ.get("callsuite.binding", "http"), request_id=environ.get("callsuite.request_id"))


class ServerMiddleware:
    """Sets per-request settings, logs access, and turns any uncaught exception into a
    plain 500 (the traceback goes to the server log, never the client). Body limits are
    per route (the router); a body that outgrows its limit while read ends here as 413."""

    def __init__(self, app: Callable, *, public_base_url: Optional[str], log_access: bool = True,
                 observe: Optional[Callable[[dict, str, float], None]] = None) -> None:
        self.app = app
        self.public_base_url = public_base_url
        self.log_access = log_access
        self.observe = observe  # metrics: (environ, status, seconds) once each request is answered
        self.request_ids = RequestIds()

    def __call__(self, environ: dict, start_response):
        started = time.perf_counter()
        environ["callsuite.public_base_url"] = self.public_base_url
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else self.request_ids.new()
        environ["callsuite.request_id"] = request_id
        state = {"status": "-", "sent": False, "bytes": 0, "length": None}

        def tracking_start_response(status, headers, exc_info=None):
            headers = [*headers, ("X-Request-Id", request_id)]
            state["status"] = status.split(" ", 1)[0]
            state["sent"] = True
            state["length"] = next((v for k, v in headers if k.lower() == "content-length"), None)
            return start_response(status, headers, exc_info)

        try:
            int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            result = plain_response(tracking_start_response, "400 Bad Request", b"bad Content-Length\n")
            return self._iterate(result, environ, start_response, state, started)
        host = environ.get("HTTP_HOST")
        if host and _HOST.fullmatch(host) is None:
            result = plain_response(tracking_start_response, "400 Bad Request", b"bad Host header\n")
            return self._iterate(result, environ, start_response, state, started)
        try:
            with audit.acting(lambda: origin_of(environ)):
                result = self.app(environ, tracking_start_response)
        except Exception as exc:
            return self._failed(exc, environ, start_response, state, started)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # The server sends a wrapped file itself, without reading it through Python:
            # hand it over untouched (a recording streams in constant memory).
            state["bytes"] = int(state["length"] or 0)
            self._log(environ, state, started)
            return result
        return self._iterate(result, environ, start_response, state, started)

    def _iterate(self, result, environ, start_response, state, started):
        try:
            for chunk in result:
                state["bytes"] += len(chunk)
                yield chunk
            close = getattr(result, "close", None)
            if close is not None:
                close()
        except Exception as exc:
            yield from self._failed(exc, environ, start_response, state, None)
        finally:
            self._log(environ, state, started)

    def _failed(self, exc: Exception, environ, start_response, state, started) -> list[bytes]:
        headers = []
        if isinstance(exc, BodyTooLarge):
            status, body = "413 Request Entity Too Large", f"{exc}\n".encode()
        elif unavailable(exc):
            # Not a bug of the request: the client (or a proxy) may send it again.
            note_unavailable(error_log, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}", exc)
            status, body = f"{http_status(DATABASE_UNAVAILABLE)} Service Unavailable", f"{DATABASE_UNAVAILABLE}\n".encode()
            headers = [("Retry-After", str(RETRY_AFTER_UNAVAILABLE_S))]
        else:
            error_log.error("unhandled error on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                            exc_info=exc)
            status, body = "500 Internal Server Error", b"internal server error\n"
        if state["sent"]:
            return []  # headers are out: the truncated body is all the client can be told
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                                ("X-Request-Id", environ.get("callsuite.request_id", "")), *headers],
                       (type(exc), exc, exc.__traceback__))
        state["status"], state["bytes"] = status.split(" ", 1)[0], len(body)
        if started is not None:
            self._log(environ, state, started)
        return [body]

    def _log(self, environ, state, started) -> None:
        if self.observe is not None:
            self.observe(environ, state["status"], time.perf_counter() - started)
        if self.log_access:
            query = environ.get("QUERY_STRING")
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            access_log.info('%s "%s %s%s" %s %d %.1fms id=%s', environ.get("REMOTE_ADDR", "-"),
                            environ.get("REQUEST_METHOD"), path, f"?{redact_query(query)}" if query else "",
                            state["status"], state["bytes"], (time.perf_counter() - started) * 1000,
                            environ.get("callsuite.request_id", "-"))
