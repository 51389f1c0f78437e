"""The outer layers every request passes: error boundary, access log, body size limit."""
from __future__ import annotations

import logging
import re
import sys
import time
from typing import Callable, Optional

from .wsgi import BodyTooLarge, plain_response

access_log = logging.getLogger("callsuite.access")
error_log = logging.getLogger("callsuite.errors")

# Query parameters that carry secrets in the seeds' GET URLs (Buzzeasy passwords, PINs).
_SECRET_PARAMS = re.compile(r"(?i)(^|&)(password|pwd|pin|token|tokenkey|access_token)=[^&]*")


def redact_query(query: str) -> str:
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}{m.group(2)}=***", query)


class ServerMiddleware:
    """Sets per-request settings, limits bodies, logs access, and turns any uncaught
    exception into a plain 500 (the traceback goes to the server log, never the client)."""

    def __init__(self, app: Callable, *, max_body_bytes: int, public_base_url: Optional[str],
                 log_access: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.public_base_url = public_base_url
        self.log_access = log_access

    def __call__(self, environ: dict, start_response):
        started = time.perf_counter()
        environ["callsuite.max_body_bytes"] = self.max_body_bytes
        environ["callsuite.public_base_url"] = self.public_base_url
        state = {"status": "-", "sent": False, "bytes": 0}

        def tracking_start_response(status, headers, exc_info=None):
            state["status"] = status.split(" ", 1)[0]
            state["sent"] = True
            return start_response(status, headers, exc_info)

        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        try:
            if length < 0:
                result = plain_response(tracking_start_response, "400 Bad Request", b"bad Content-Length\n")
            elif length > self.max_body_bytes:
                result = plain_response(tracking_start_response, "413 Request Entity Too Large",
                                        f"request body over {self.max_body_bytes} bytes\n".encode())
            else:
                result = self.app(environ, tracking_start_response)
            for chunk in result:
                state["bytes"] += len(chunk)
                yield chunk
            close = getattr(result, "close", None)
            if close is not None:
                close()
        except BodyTooLarge as exc:
            if not state["sent"]:
                yield from plain_response(tracking_start_response, "413 Request Entity Too Large",
                                          f"{exc}\n".encode())
        except Exception:
            error_log.exception("unhandled error on %s %s", environ.get("REQUEST_METHOD"),
                                environ.get("PATH_INFO"))
            if not state["sent"]:
                body = b"internal server error\n"
                start_response("500 Internal Server Error",
                               [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
                               sys.exc_info())
                state["status"] = "500"
                yield body
        finally:
            if self.log_access:
                query = environ.get("QUERY_STRING")
                path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
                access_log.info('%s "%s %s%s" %s %d %.1fms', environ.get("REMOTE_ADDR", "-"),
                                environ.get("REQUEST_METHOD"), path,
                                f"?{redact_query(query)}" if query else "", state["status"],
                                state["bytes"], (time.perf_counter() - started) * 1000)
