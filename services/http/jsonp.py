"""JSONP: a callback name is a plain JavaScript identifier path, or the request is refused."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from werkzeug.wrappers import Response

_CALLBACK = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", re.ASCII)


BAD_CALLBACK = "callback must be a JavaScript identifier path\n"
JAVASCRIPT = "application/javascript; charset=utf-8"


class JsonpError(ValueError):
    pass


def valid_callback(name: str) -> bool:
    return len(name) <= 128 and _CALLBACK.fullmatch(name) is not None


def wrap_jsonp(callback: str, json_body: bytes) -> bytes:
    if not valid_callback(callback):
        raise JsonpError("callback must be a JavaScript identifier path")
    # U+2028/2029 are legal in JSON but end a line in older JavaScript engines.
    body = json_body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
    return callback.encode("ascii") + b"(" + body + b");"


def json_answer(payload: Any, callback: Optional[str], status: int = 200) -> Response:
    """JSON, or JSONP when the request named a callback (then always 200: a script tag runs
    no callback for an error status). A callback that is not an identifier path gets 400."""
    if callback is not None and not valid_callback(callback):
        return Response(BAD_CALLBACK, status=400, content_type="text/plain; charset=utf-8")
    body = json.dumps(payload).encode()
    if callback is None:
        return Response(body, status=status, content_type="application/json; charset=utf-8")
    return Response(wrap_jsonp(callback, body), content_type=JAVASCRIPT, headers={"X-Content-Type-Options": "nosniff"})
