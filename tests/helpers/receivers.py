"""Real receivers on 127.0.0.1 for outbound deliveries: a plain HTTP server recording every
request (method, target, headers, body) and a SOAP CRM (a Spyne app with its own WSDL)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import ThreadingMixIn
from typing import Optional
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


@dataclass(frozen=True)
class Received:
    method: str
    target: str  # path?query exactly as it arrived
    headers: dict  # lower-case names
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)


class HttpReceiver:
    """Answers `statuses` in order, then `then`. With `hang_first`, the first request is
    held open until `release()` (a receiver that stops answering mid-delivery)."""

    def __init__(self, statuses=(), then: int = 200, hang_first: bool = False) -> None:
        self.statuses = list(statuses)
        self.then = then
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._hang = hang_first
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.received.append(Received(self.command, self.path,
                                                      {k.lower(): v for k, v in self.headers.items()}, body))
                    hang, receiver._hang = receiver._hang, False
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.then
                    receiver._arrived.notify_all()
                if hang:
                    receiver._released.wait(60)
                    return
                answer = b"ok" if status < 300 else b"nope"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _handle  # noqa: N815 (http.server's naming)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} requests arrived: {self.received}")
                self._arrived.wait(left)
            return list(self.received)

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class SoapCrm:
    """A CRM's own SOAP web service: `RecordCall` stores what it parsed; fails `failures` times first."""

    NAMESPACE = "urn:example:crm"

    def __init__(self, failures: int = 0) -> None:
        from spyne import Application, Fault, Integer, ServiceBase, Unicode, rpc
        from spyne.protocol.soap import Soap11
        from spyne.server.wsgi import WsgiApplication

        crm = self
        self.calls: list[dict] = []
        self.failures = failures
        self.headers: list[dict] = []

        class CrmService(ServiceBase):
            @rpc(Unicode, Unicode, Unicode, Integer, Unicode, Unicode, Unicode, Unicode,
                 _returns=Unicode, _args=("Phone", "Agent", "When", "Seconds", "AudioFile", "Kind",
                                         "Reference", "RequestId"))
            def RecordCall(ctx, Phone, Agent, When, Seconds, AudioFile, Kind, Reference, RequestId):  # noqa: N802,N803
                environ = ctx.transport.req_env
                crm.headers.append({k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                                    if k.startswith("HTTP_")})
                crm.calls.append({"Phone": Phone, "Agent": Agent, "When": When, "Seconds": Seconds,
                                  "AudioFile": AudioFile, "Kind": Kind, "Reference": Reference,
                                  "RequestId": RequestId})
                if crm.failures > 0:
                    crm.failures -= 1
                    raise Fault("Server.Busy", "the CRM is busy")
                return "stored"

        application = Application([CrmService], tns=self.NAMESPACE, name="Crm",
                                  in_protocol=Soap11(validator="lxml"), out_protocol=Soap11())
        self.server = make_server("127.0.0.1", 0, WsgiApplication(application),
                                  server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.port = self.server.server_port
        self.wsdl = f"http://127.0.0.1:{self.port}/crm?wsdl"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.calls)} of {count} SOAP calls arrived")
            time.sleep(0.05)
        return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(predicate, timeout: float = 15.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


def read_text(path) -> Optional[str]:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
