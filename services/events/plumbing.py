"""What every events request shares: CORS with credentials for the allowed origins,
JSON / JSONP answers, request parameters from the query and a form body, the client
address (behind the configured trusted proxy only)."""
from __future__ import annotations

import json
from typing import Any, Optional

from aiohttp import web

from services.http.jsonp import BAD_CALLBACK, JAVASCRIPT, valid_callback, wrap_jsonp

MAX_FORM_BYTES = 16 * 1024


class Origins:
    """`events_allowed_origins`: "*" (any; the default) or a comma-separated list such as
    "https://www.example.com, https://shop.example.com". The browser gets back the exact
    Origin it sent, with credentials allowed — never "*", which it refuses with credentials."""

    def __init__(self, setting: str) -> None:
        items = {item.strip().rstrip("/").lower() for item in (setting or "*").replace(" ", ",").split(",")}
        items.discard("")
        self.any = "*" in items or not items
        self.allowed = frozenset(items - {"*"})

    def permits(self, origin: Optional[str]) -> bool:
        return origin is None or self.any or origin.rstrip("/").lower() in self.allowed


def cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def preflight(request: web.Request) -> web.Response:
    headers = cors_headers(request)
    headers.update({"Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Max-Age": "600"})
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
    return web.Response(status=204, headers=headers)


def refusal(status: int, reason: str) -> web.Response:
    return web.Response(status=status, text=reason + "\n", content_type="text/plain")


def answer(request: web.Request, payload: Any, params: Optional[dict] = None) -> web.Response:
    """JSON, or JSONP when the request names a `callback` (long polling with CORS off)."""
    callback = (params if params is not None else request.query).get("callback")
    body = json.dumps(payload, separators=(",", ":")).encode()
    if callback is None:
        return web.Response(body=body, content_type="application/json", charset="utf-8")
    if not valid_callback(callback):
        return refusal(400, BAD_CALLBACK.strip())
    return web.Response(body=wrap_jsonp(callback, body), headers={
        "Content-Type": JAVASCRIPT, "X-Content-Type-Options": "nosniff"})


async def parameters(request: web.Request) -> dict[str, str]:
    """Query parameters, overlaid by a form body (the clients POST messageId, groupsToken
    and hub invocations as application/x-www-form-urlencoded; with JSONP they are GET
    query parameters instead)."""
    params = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if (request.content_length or 0) > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=request.content_length)
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


def client_address(request: web.Request, trusted_proxy: Optional[str], trusted_count: int) -> Optional[str]:
    """As waitress does for the WSGI services: X-Forwarded-For only from the trusted proxy."""
    remote = request.remote
    if trusted_proxy and (trusted_proxy == "*" or remote == trusted_proxy):
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(trusted_count, len(forwarded))]
    return remote
