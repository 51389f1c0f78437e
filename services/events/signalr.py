"""ASP.NET SignalR 2 endpoint at /signalr: negotiate, connect, reconnect, poll, start,
send, abort, ping — what the unmodified jQuery SignalR clients (2.1.2 … 2.4.3) send.

- Client protocols 1.4 (client 2.1.2, the seed's), 1.5 (2.2.x) and 2.0 / 2.1 (2.3+, 2.4.x);
  negotiate answers with the version asked for: 2.1.2 and 2.2.x refuse any other.
- The one hub, NotifyMe, travels lower-case in connectionData ([{"name":"notifyme"}]).
- Connection tokens are HMAC-signed (tokens.py): any process sharing the database checks
  them, nobody can make one up or point one at another connection.
- Message ids are cursors (cursor.py): a reconnecting client gets what it missed.
"""
from __future__ import annotations

import logging

from aiohttp import web

from services.http.wsgi import BadJson, parse_json

from . import cursor
from .hub import HUB_NAME
from .plumbing import answer, parameters, refusal
from .tokens import InvalidToken

log = logging.getLogger(__name__)

PROTOCOL_VERSIONS = ("1.4", "1.5", "2.0", "2.1")
TRANSPORTS = ("serverSentEvents", "longPolling")
DISCONNECT_TIMEOUT_S = 30.0
TRANSPORT_CONNECT_TIMEOUT_S = 5.0


class SignalR:
    def __init__(self, *, tokens, hub, transports, feed, run_db, origins, address_of, keepalive_s: float,
                 long_poll_s: float, database) -> None:
        self.tokens = tokens
        self.hub = hub
        self.transports = transports
        self.feed = feed
        self.run_db = run_db
        self.origins = origins
        self.address_of = address_of
        self.keepalive_s = keepalive_s
        self.long_poll_s = long_poll_s
        self.database = database

    def routes(self, prefix: str = "/signalr") -> list:
        return [web.get(f"{prefix}/negotiate", self.negotiate),
                web.route("*", f"{prefix}/connect", self.connect),
                web.route("*", f"{prefix}/reconnect", self.reconnect),
                web.route("*", f"{prefix}/poll", self.poll),
                web.get(f"{prefix}/start", self.start),
                web.route("*", f"{prefix}/send", self.send),
                web.route("*", f"{prefix}/abort", self.abort),
                web.get(f"{prefix}/ping", self.ping)]

    # -- checks every request passes ------------------------------------------------------

    def _checked(self, params: dict, *, needs_token: bool = True):
        """(refusal, connection id): the protocol version, hub, transport and token."""
        if "callback" in params and not self.origins.any:
            # JSONP bypasses the browser's origin checks, so it only exists with no allow-list.
            return refusal(403, "JSONP is not available: this server allows only listed origins."), None
        if params.get("clientProtocol") not in PROTOCOL_VERSIONS:
            return refusal(400, "Incompatible protocol version."), None
        problem = _hub_problem(params.get("connectionData"))
        if problem:
            return refusal(400, problem), None
        if not needs_token:
            return None, None
        try:
            return None, self.tokens.connection_id(params.get("connectionToken"))
        except InvalidToken:
            return refusal(403, "The connection token is invalid."), None

    def _transport(self, params: dict):
        transport = params.get("transport")
        return transport if transport in TRANSPORTS else None

    # -- the endpoints ---------------------------------------------------------------------

    async def negotiate(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        refused, _ = self._checked(params, needs_token=False)
        if refused:
            return refused
        connection_id, token = self.tokens.issue()
        return answer(request, {
            "Url": request.path[: -len("/negotiate")],
            "ConnectionToken": token,
            "ConnectionId": connection_id,
            "KeepAliveTimeout": self.keepalive_s * 2,
            "DisconnectTimeout": DISCONNECT_TIMEOUT_S,
            "ConnectionTimeout": self.long_poll_s,
            "TryWebSockets": False,
            "ProtocolVersion": params["clientProtocol"],
            "TransportConnectTimeout": TRANSPORT_CONNECT_TIMEOUT_S,
            "LongPollDelay": 0.0,
        }, params)

    async def _stream(self, request: web.Request, *, initialize: bool) -> web.StreamResponse:
        params = await parameters(request)
        refused, connection_id = self._checked(params)
        if refused:
            return refused
        transport = self._transport(params)
        if transport is None:
            return refusal(400, "Protocol error: Unknown transport.")
        try:
            positions = {} if initialize else cursor.decode(params.get("messageId"))
        except cursor.InvalidCursor:
            return refusal(400, "Protocol error: the message id is invalid.")
        if transport == "serverSentEvents":
            if "callback" in params:
                return refusal(400, "JSONP is only for longPolling.")
            return await self.transports.server_sent_events(request, connection_id, positions,
                                                            initialize=initialize)
        return await self.transports.long_polling(request, params, connection_id, positions, initialize=initialize)

    async def connect(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, initialize=True)

    async def reconnect(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, initialize=False)

    async def poll(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, initialize=False)

    async def start(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        refused, _ = self._checked(params)
        if refused:
            return refused
        if self._transport(params) is None:
            return refusal(400, "Protocol error: Unknown transport.")
        return answer(request, {"Response": "started"}, params)

    async def send(self, request: web.Request) -> web.Response:
        params = await parameters(request)
        refused, connection_id = self._checked(params)
        if refused:
            return refused
        try:
            call = _json(params.get("data"))
        except BadJson:
            return refusal(400, "Protocol error: data is not a JSON hub invocation.")
        address = self.address_of(request)
        try:
            result, changed = await self.run_db(self.hub.invoke, connection_id, address, call)
        except ValueError as error:
            return refusal(400, f"Protocol error: {error}")
        if changed:
            self.feed.connection_changed(connection_id)
        return answer(request, result, params)

    async def abort(self, request: web.Request) -> web.Response:
        params = await parameters(request)
        refused, connection_id = self._checked(params)
        if refused:
            return refused
        await self.run_db(self.hub.forget, connection_id)
        self.feed.connection_changed(connection_id, closed=True)
        return web.Response(text="")

    async def ping(self, request: web.Request) -> web.Response:
        return answer(request, {"Response": "pong"})


def _hub_problem(connection_data) -> str | None:
    """connectionData must name the one hub, NotifyMe (any case: the clients lower-case it)."""
    try:
        hubs = _json(connection_data)
        names = [str(hub["name"]) for hub in hubs]
    except (BadJson, TypeError, KeyError):
        return "Protocol error: connectionData must list the hubs, e.g. [{\"name\":\"notifyme\"}]."
    unknown = [name for name in names if name.lower() != HUB_NAME.lower()]
    if unknown or not names:
        return f"'{(unknown or [''])[0]}' Hub could not be resolved."
    return None


def _json(text) -> object:
    """A JSON parameter, bounded as every JSON body is (nesting, numbers): a client's
    `[[[[...` must be a protocol error, not the parser's recursion limit."""
    return parse_json((text or "").encode("utf-8", "surrogatepass"))
