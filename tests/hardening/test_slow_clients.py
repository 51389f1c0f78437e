"""Slow or half-sent requests cannot lock everyone else out (issue 8, part B): waitress's
limits are settings, and a client that dribbles its headers is cut off."""
from __future__ import annotations

import socket
import time

import pytest
import requests
from helpers.server import start_server


@pytest.fixture(scope="module")
def impatient(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("callsuite-data"), channel_timeout_s=2)
    yield server
    server.stop()


def _connect(live) -> socket.socket:
    host, port = live.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_100_half_sent_requests_do_not_keep_health_from_answering(live):
    held = []
    try:
        for _ in range(100):
            connection = _connect(live)
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # no blank line: never finished
            held.append(connection)
        response = requests.get(live.url("/health"), timeout=10)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        for connection in held:
            connection.close()


def test_a_client_sending_one_header_line_at_a_time_is_disconnected(impatient):
    connection = _connect(impatient)
    connection.settimeout(0.5)
    connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    closed = False
    deadline = time.monotonic() + 20  # the timeout is 2 s; lines arrive every 0.5 s, always inside it
    try:
        while time.monotonic() < deadline:
            try:
                connection.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            try:
                if connection.recv(1024) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
    finally:
        connection.close()
    assert closed, "a request whose headers never end must not hold its connection for ever"
    # A client that sends its request at once is served as usual.
    assert requests.get(impatient.url("/health"), timeout=10).status_code == 200


def test_a_slow_body_after_complete_headers_keeps_the_idle_timeout(impatient):
    """Uploads may be slow: only idleness ends them, not the header deadline."""
    connection = _connect(impatient)
    connection.settimeout(10)
    body = b'{"event": "x"}'
    connection.sendall(b"POST /cti/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    for byte in body:  # over 3 s in all, more than the 2 s timeout, never 2 s idle
        time.sleep(0.25)
        connection.sendall(bytes([byte]))
    answer = b""
    while chunk := connection.recv(4096):
        answer += chunk
    connection.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]  # the request arrived whole and was answered
