"""The one WSGI application: every edge's routes behind the server middleware."""
from __future__ import annotations


from werkzeug.wrappers import Response

from services.ingest.cti import CtiIngest
from services.calldata import edge as calldata_edge
from services.callback import edge as callback_edge
from services.console import edge as console_edge
from services.info import edge as info_edge
from services.recording import edge as recording_edge

from .jsonp import json_answer
from .middleware import ServerMiddleware
from .routing import Route, Router


def build_app(system):
    routes: list[Route] = [Route("/health", lambda request: _health(system))]
    routes += CtiIngest(system).routes()
    if system.switch is not None:
        from services.ingest.sim import SimulatedSwitchApi
        routes += SimulatedSwitchApi(system).routes()
    routes += recording_edge.routes(system)
    routes += calldata_edge.routes(system)
    routes += console_edge.routes(system)
    routes += callback_edge.routes(system)
    routes += info_edge.routes(system)
    settings = system.settings
    router = Router(routes, max_body_bytes=settings.max_body_bytes)
    return ServerMiddleware(router, public_base_url=settings.public_base_url, log_access=settings.access_log)


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


def _health(system) -> Response:
    from sqlalchemy import text
    try:
        with system.database.session() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unavailable"
    ok = system.ready and database == "ok"
    body = {"status": "ok" if ok else "starting" if database == "ok" else "degraded",
            "database": database, "switch": system.settings.switch}
    return json_answer(body, None, 200 if ok else 503)
