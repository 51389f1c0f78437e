"""The events server: aiohttp on its own event loop, in a thread of the `callsuite serve`
process, on `events_port` (default 8001).

Why a second server: waitress serves each request on one of a few threads, so a thousand
open event streams or pending long polls would take a thousand threads. An event loop
holds them as cheap coroutines; aiohttp is a mature asyncio HTTP server with streaming
responses. Database reads run on a small thread pool (SQLAlchemy is blocking), woken by
the core's CallbackStatusChanged events, with a slow poll of the database as a safety net.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Optional

from aiohttp import web

from services.core import callback_status, events
from services.core.server_secrets import shared_secret
from services.http.errors import DATABASE_UNAVAILABLE, RETRY_AFTER_UNAVAILABLE_S, http_status, note_unavailable
from storage.database import unavailable

from . import demo
from .feed import Feed
from .hub import NotifyMe
from .plumbing import MAX_FORM_BYTES, Origins, client_address, cors_headers, preflight, refusal
from .signalr import SignalR
from .sse import CallbackEvents
from .tokens import ConnectionTokens
from .transports import Transports

log = logging.getLogger(__name__)

DB_THREADS = 8
SUBSCRIPTION_LIFETIME = timedelta(days=2)  # forget subscriptions of clients that never aborted


class EventsServer:
    """A System worker (start/stop). `port` is the bound port once started."""

    def __init__(self, system) -> None:
        self.system = system
        self.settings = system.settings
        self.port: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._failure: Optional[BaseException] = None
        self._runner: Optional[web.AppRunner] = None
        self._executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="events-db")
        self.feed = Feed(self.run_db, system.database)
        system.events.on_commit(events.CallbackStatusChanged, self._status_committed)

    # -- wiring ----------------------------------------------------------------------------

    async def run_db(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(function, *args))

    def _status_committed(self, event) -> None:
        # Called on the committing thread (a waitress worker, the scheduler, the listener).
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.feed.status_committed, event.request_id, event.event_id)

    def build_app(self) -> web.Application:
        settings = self.settings
        database = self.system.database
        throttle = self.system.throttle  # unknown codes count as failed sign-ins (a code is a secret)
        origins = Origins(settings.events_allowed_origins)

        def address_of(request):
            return client_address(request, settings.trusted_proxy, settings.trusted_proxy_count)

        with database.session() as session:
            tokens = ConnectionTokens(shared_secret(session, "signalr-connection-tokens"))
        transports = Transports(feed=self.feed, run_db=self.run_db, database=database,
                                keepalive_s=settings.events_keepalive_s, long_poll_s=settings.events_long_poll_s)
        signalr = SignalR(tokens=tokens, hub=NotifyMe(database, throttle), transports=transports, feed=self.feed,
                          run_db=self.run_db, origins=origins, address_of=address_of,
                          keepalive_s=settings.events_keepalive_s, long_poll_s=settings.events_long_poll_s,
                          database=database)
        sse = CallbackEvents(database=database, throttle=throttle, feed=self.feed, run_db=self.run_db,
                             address_of=address_of, keepalive_s=settings.events_keepalive_s)

        @web.middleware
        async def origin_gate(request, handler):
            if not origins.permits(request.headers.get("Origin")):
                return refusal(403, "Origin not allowed.")
            if request.method == "OPTIONS":
                return preflight(request)
            return await handler(request)

        @web.middleware
        async def database_gate(request, handler):
            try:
                return await handler(request)
            except Exception as exc:
                if not unavailable(exc):
                    raise
                # As the services' 503: a stream or poll sent again a moment later may well succeed.
                note_unavailable(log, f"{request.method} {request.path}", exc)
                response = refusal(http_status(DATABASE_UNAVAILABLE), str(DATABASE_UNAVAILABLE))
                response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE_S)
                return response

        async def add_cors(request, response):
            if origins.permits(request.headers.get("Origin")):
                response.headers.update(cors_headers(request))

        app = web.Application(middlewares=[origin_gate, database_gate], client_max_size=MAX_FORM_BYTES)
        app.on_response_prepare.append(add_cors)
        app.add_routes(signalr.routes() + sse.routes() + demo.routes(settings))
        async def health(request):
            return web.json_response({"status": "ok", "subscribers": len(self.feed)})

        app.router.add_get("/health", health)
        return app

    # -- the worker --------------------------------------------------------------------------

    def start(self) -> None:
        app = self.build_app()
        self._thread = threading.Thread(target=self._run, args=(app,), name="events-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._failure is not None:
            raise self._failure
        log.info("Callsuite events (SignalR /signalr, SSE /events/callbacks) on http://%s:%s",
                 self.settings.host, self.port)

    def _run(self, app: web.Application) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.settings.host, self.settings.events_port, reuse_address=True,
                               backlog=2048)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # e.g. the port is taken: serve must not start half-way
            self._failure = exc
            self._ready.set()
            loop.close()
            return
        self._loop = loop
        poll = loop.create_task(self.feed.safety_poll(self.settings.events_db_poll_s))
        housekeeping = loop.create_task(self._housekeeping())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            poll.cancel()
            housekeeping.cancel()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _housekeeping(self) -> None:
        while True:
            try:
                await self.run_db(self._purge)
            except Exception:
                log.exception("purging old hub subscriptions failed")
            await asyncio.sleep(3600)

    def _purge(self) -> None:
        with self.system.database.session() as session:
            callback_status.purge_subscriptions(session, SUBSCRIPTION_LIFETIME)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(self.feed.close_all)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._executor.shutdown(wait=False, cancel_futures=True)
