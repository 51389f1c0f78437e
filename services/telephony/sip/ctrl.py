"""baresip's ctrl_tcp protocol: netstring-framed JSON both ways.

A command is `{"command", "params", "token"}`; baresip answers with `{"response": true,
"ok", "data", "token"}` and sends `{"event": true, "type", ...}` whenever something
happens on a call. baresip 1.0.0's netstring reader loses commands that arrive back to
back (SIP-FACTS), so `command` sends one and waits for its answer before the next goes:
the lock is held for the whole round trip.
"""
from __future__ import annotations

import itertools
import json
import logging
import queue
import socket
import threading
from typing import Callable, Optional

log = logging.getLogger(__name__)


class ControlError(Exception):
    """The sidecar is gone, or did not answer in time."""


class CommandFailed(ControlError):
    def __init__(self, command: str, data: str) -> None:
        super().__init__(f"baresip refused {command}: {data.strip()}")
        self.data = data


class BaresipControl:
    def __init__(self, host: str, port: int, on_event: Callable[[dict], None], *,
                 connect_timeout_s: float = 5.0, reply_timeout_s: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        self._sock.settimeout(None)
        self._on_event = on_event
        self.reply_timeout_s = reply_timeout_s
        self._replies: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="baresip-ctrl", daemon=True)
        self._reader.start()

    def command(self, command: str, params: Optional[str] = None, *, check: bool = True) -> str:
        """Send one command and return its answer's text; `CommandFailed` when baresip says
        it failed (unless `check` is off), `ControlError` when the sidecar is gone."""
        with self._lock:
            if self.closed.is_set():
                raise ControlError("the baresip sidecar is not connected")
            token = str(next(self._tokens))
            message = {"command": command, "token": token}
            if params is not None:
                message["params"] = params
            body = json.dumps(message).encode()
            try:
                self._sock.sendall(b"%d:%s," % (len(body), body))
            except OSError as exc:
                raise ControlError(f"the baresip sidecar is gone: {exc}") from None
            while True:
                try:
                    reply = self._replies.get(timeout=self.reply_timeout_s)
                except queue.Empty:
                    raise ControlError(f"baresip did not answer {command} in time") from None
                if reply is None:
                    raise ControlError("the baresip sidecar closed the connection")
                if reply.get("token") == token:
                    break  # an answer to an earlier, timed-out command is dropped
        data = str(reply.get("data") or "")
        if check and not reply.get("ok"):
            raise CommandFailed(command, data)
        return data

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while True:
                    colon = buffer.find(b":")
                    if colon < 0:
                        break
                    length = int(buffer[:colon])
                    if len(buffer) < colon + 1 + length + 1:
                        break
                    body = buffer[colon + 1:colon + 1 + length]
                    buffer = buffer[colon + 2 + length:]
                    try:
                        message = json.loads(body)
                    except ValueError:
                        log.warning("baresip sent something that is not JSON: %r", body[:200])
                        continue
                    if message.get("response"):
                        self._replies.put(message)
                    elif message.get("event"):
                        try:
                            self._on_event(message)
                        except Exception:
                            log.exception("handling baresip event %s", message.get("type"))
        except (OSError, ValueError):
            pass
        finally:
            self.closed.set()
            self._replies.put(None)

    def close(self) -> None:
        self.closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
