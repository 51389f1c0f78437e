"""A small client for rtpengine's NG control protocol: bencoded dictionaries over UDP,
each request prefixed by a cookie that its reply repeats.

Only what the SIP driver needs: ping, start/stop recording (rtpengine 10.5 has no pause:
a pause is a stop, a resume a new start, and every start opens a new pcap segment),
query and delete.
"""
from __future__ import annotations

import os
import socket
import threading
from typing import Any, Union

Bencodable = Union[bytes, str, int, list, dict]


class NgError(Exception):
    """rtpengine answered with an error, or did not answer."""


def bencode(value: Bencodable) -> bytes:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, (bytes, bytearray)):
        return b"%d:%s" % (len(value), bytes(value))
    if isinstance(value, (list, tuple)):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after the bencoded value")
    return value


def _decode(data: bytes, at: int) -> tuple[Any, int]:
    lead = data[at:at + 1]
    if lead == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1:end]), end + 1
    if lead == b"l":
        items, at = [], at + 1
        while data[at:at + 1] != b"e":
            item, at = _decode(data, at)
            items.append(item)
        return items, at + 1
    if lead == b"d":
        result, at = {}, at + 1
        while data[at:at + 1] != b"e":
            key, at = _decode(data, at)
            result[key.decode() if isinstance(key, bytes) else key], at = _decode(data, at)
        return result, at + 1
    if lead.isdigit():
        colon = data.index(b":", at)
        length = int(data[at:colon])
        start = colon + 1
        if start + length > len(data):
            raise ValueError("bencoded string runs past the end")
        return data[start:start + length], start + length
    raise ValueError(f"not bencode at byte {at}")


class NgClient:
    """One UDP socket to rtpengine; requests are serialised (a reply is matched by its cookie)."""

    def __init__(self, host: str, port: int, timeout_s: float = 2.0, attempts: int = 3) -> None:
        self.address = (host, int(port))
        self.timeout_s = timeout_s
        self.attempts = attempts
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)

    @classmethod
    def from_address(cls, address: str, **kwargs) -> "NgClient":
        """'host:port' (or 'udp:host:port', as kamailio writes it)."""
        text = address.removeprefix("udp:")
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"rtpengine NG address must be host:port, not {address!r}")
        return cls(host.strip("[]"), int(port), **kwargs)

    def request(self, command: str, **params: Bencodable) -> dict:
        message = {"command": command, **{k.replace("_", "-"): v for k, v in params.items()}}
        with self._lock:
            for _ in range(self.attempts):  # UDP: a lost datagram is retried with the same cookie
                cookie = os.urandom(6).hex().encode()
                self._sock.sendto(cookie + b" " + bencode(message), self.address)
                self._sock.settimeout(self.timeout_s)
                try:
                    while True:
                        data, _ = self._sock.recvfrom(65536)
                        got, _, body = data.partition(b" ")
                        if got == cookie:
                            break
                except socket.timeout:
                    continue
                reply = bdecode(body)
                result = reply.get("result", b"").decode()
                if result == "error":
                    raise NgError(f"rtpengine refused {command}: {reply.get('error-reason', b'').decode()}")
                return reply
        raise NgError(f"rtpengine at {self.address[0]}:{self.address[1]} did not answer {command}")

    def ping(self) -> bool:
        return self.request("ping").get("result") == b"pong"

    def start_recording(self, call_id: str) -> None:
        self.request("start recording", call_id=call_id)

    def stop_recording(self, call_id: str) -> None:
        self.request("stop recording", call_id=call_id)

    def query(self, call_id: str) -> dict:
        return self.request("query", call_id=call_id)

    def close(self) -> None:
        self._sock.close()
