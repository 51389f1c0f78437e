"""The WSGI plumbing every server uses: the router behind the server middleware, and the
waitress options. What is mounted is decided by the composition root (services/system.py)."""
from __future__ import annotations

from typing import Callable, Iterable

from werkzeug.wrappers import Response

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
    return Route("/health", answer)


def server_options(settings) -> dict:
    """waitress options. Behind a reverse proxy, waitress itself takes the client address
    (AddLink's workstation, Callbutton's allow-lists) and scheme/host (URLs handed out) from
    X-Forwarded-* — only from the configured proxy; from anyone else it drops them."""
    options = {"threads": settings.threads, "ident": "callsuite"}
    if settings.trusted_proxy:
        options.update(trusted_proxy=settings.trusted_proxy, trusted_proxy_count=settings.trusted_proxy_count,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                              "x-forwarded-port"})
    return options
