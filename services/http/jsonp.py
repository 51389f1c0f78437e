"""JSONP: a callback name is a plain JavaScript identifier path, or the request is refused."""
from __future__ import annotations

import re

_CALLBACK = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", re.ASCII)


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
