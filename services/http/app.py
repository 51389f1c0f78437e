"""The WSGI plumbing every server uses: the router behind the server middleware, and the
waitress options. What is mounted is decided by the composition root (services/system.py)."""
from __future__ import annotations

from typing import Callable, Iterable

from waitress.channel import HTTPChannel
from waitress.server import create_server
from werkzeug.wrappers import Response

from . import openapi
from .jsonp import json_answer
from .middleware import ServerMiddleware
from .routing import Route, Router


def build_wsgi(routes: Iterable[Route], settings, observe=None) -> ServerMiddleware:
    router = Router(routes, max_body_bytes=settings.max_body_bytes)
    return ServerMiddleware(router, public_base_url=settings.public_base_url, log_access=settings.access_log,
                            observe=observe)


def health_route(health: Callable[[], tuple[dict, bool]]) -> Route:
    """GET /health: 200 with the system's state once ready, 503 before or when degraded."""
    def answer(request) -> Response:
        body, ok = health()
        return json_answer(body, None, 200 if ok else 503)
    return Route("/health", answer, api=(openapi.Operation(
        "The server's state: 200 once ready, 503 before or when the database is unavailable", tag="Operations",
        responses={code: openapi.json_body(openapi.obj({"status": openapi.STRING, "database": openapi.STRING,
                                                        "switch": openapi.STRING}, ["status", "database"]))
                   for code in (200, 503)}),))


def openapi_route(routes: Iterable[Route]) -> Route:
    """GET /openapi.json: the description of `routes` and of itself, built once."""
    describe = openapi.Operation("This OpenAPI description", tag="Operations",
                                 responses={200: openapi.json_body({"type": "object"})})
    built: dict = {}

    def answer(request) -> Response:
        if "document" not in built:
            built["document"] = openapi.document([*routes, route])
        return json_answer(built["document"], None)

    route = Route("/openapi.json", answer, api=(describe,))
    return route


def server_options(settings) -> dict:
    """waitress options. Behind a reverse proxy, waitress itself takes the client address
    (AddLink's workstation, Callbutton's allow-lists) and scheme/host (URLs handed out) from
    X-Forwarded-* — only from the configured proxy; from anyone else it drops them.

    Connection limits: waitress's defaults (100 connections, 120 s idle timeout) let 100
    half-sent requests lock everyone out for minutes. poll() instead of select(), which
    cannot watch more than 1024 sockets."""
    options = {"threads": settings.threads, "ident": "callsuite", "connection_limit": settings.connection_limit,
               "channel_timeout": settings.channel_timeout_s, "backlog": settings.listen_backlog,
               "cleanup_interval": max(1, min(10, settings.channel_timeout_s // 3)), "asyncore_use_poll": True}
    if settings.trusted_proxy:
        options.update(trusted_proxy=settings.trusted_proxy, trusted_proxy_count=settings.trusted_proxy_count,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                              "x-forwarded-port"})
    return options


class HeaderDeadlineChannel(HTTPChannel):
    """waitress closes a connection after `channel_timeout` without any bytes; a client
    sending one header line every few seconds would hold it for ever. Bytes that do not
    finish a request's headers do not count as activity here, so the request line and
    headers must all arrive within `channel_timeout` of the request's first byte. (Slow
    bodies, such as a long recording upload, keep the plain idle timeout.)"""

    def handle_read(self):
        before = self.last_activity
        in_headers = self.request is not None and not self.request.headers_finished
        super().handle_read()
        if in_headers and self.request is not None and not self.request.headers_finished:
            self.last_activity = before


def create_http_server(app, settings, *, host: str, port: int):
    server = create_server(app, host=host, port=port, **server_options(settings))
    server.channel_class = HeaderDeadlineChannel
    return server

