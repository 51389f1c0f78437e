"""The access log of `callsuite serve`: one line per request with its request id, written
by a thread of its own, and nothing queued lost when the server stops."""
import requests
from helpers.process import ServeProcess


def test_every_request_is_logged_with_its_id_and_the_last_lines_survive_a_stop(tmp_path):
    server = ServeProcess(tmp_path / "data", access_log=True).start()
    try:
        answers = [requests.get(server.url(path), headers={"X-Request-Id": f"log-{n}"}, timeout=10)
                   for n, path in enumerate(("/health", "/no/such/route") * 25)]
        assert [r.headers["X-Request-Id"] for r in answers] == [f"log-{n}" for n in range(50)]
    finally:
        server.stop()  # straight after the last answer: lines still queued must be written
    lines = server.log.read_text().splitlines()
    for n in range(50):
        mine = [line for line in lines if line.endswith(f" id=log-{n}")]
        path, status = ("/health", "200") if n % 2 == 0 else ("/no/such/route", "404")
        assert len(mine) == 1 and f'"GET {path}" {status} ' in mine[0], (n, mine)
    assert "stopping (signal 15)" in server.log.read_text()
