"""A local TCP relay between a browser and a server, whose `cut()` resets every
connection through it (RST, as a dropped network does to a client) and keeps resetting
new ones until `restore()`. Playwright's offline mode cannot do this: it leaves open
event streams and long polls alone (STACK-FACTS)."""
from __future__ import annotations

import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Wakes the pump thread blocked in recv (close alone would not, on Linux), sends nothing.
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()  # with linger 0: RST
    except OSError:
        pass


class Relay:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.down = False
        self.resets = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True, name="relay").start()

    def cut(self) -> None:
        with self._lock:
            self.down = True
            for sock in list(self._open):
                _reset(sock)
                self.resets += 1
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self.down = False

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self.down:
                    _reset(client)
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            for sock in (source, sink):
                if sock in self._open:
                    self._open.discard(sock)
                    _reset(sock) if self.down else sock.close()
