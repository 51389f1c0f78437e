"""Two server processes on one PostgreSQL database: a customer subscribed on the process
that does not execute the callback still receives its statuses (LISTEN/NOTIFY from the
core's domain events), and a connection token from one process is good on the other."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests
from helpers import buzzeasy
from helpers.callbacks import ENGINE, SUCCESS, finish, follow, new_request, open_page, record, request_callback
from helpers.events import Connection, events_of, statuses
from helpers.postgres import PostgresServer
from helpers.server import REPO, start_server


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    postgres = PostgresServer().start()
    url = postgres.create_database("callsuite_events")
    # The writer executes callbacks (the engine through its simulated switch); the other
    # process has no switch, so it never does.
    writer = start_server(tmp_path_factory.mktemp("writer"), database_url=url, site=buzzeasy.site(agents=[7]),
                          **ENGINE)
    port, events_port = _free_port(), _free_port()
    data = tmp_path_factory.mktemp("subscriber")
    config = data / "callsuite.toml"
    # No safety-net poll worth the name: only a notification can wake this process's streams.
    config.write_text('[callsuite]\nhost = "127.0.0.1"\nswitch = "none"\nevents_db_poll_s = 3600\n'
                      'access_log = false\n')
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--database-url", url,
                                "--data-dir", str(data), "--config", str(config), "--port", str(port),
                                "--events-port", str(events_port)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    subscriber = f"http://127.0.0.1:{events_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(subscriber + "/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the second process did not start"
                time.sleep(0.2)
        yield writer, subscriber
    finally:
        process.terminate()
        process.communicate(timeout=20)
        writer.stop()
        postgres.stop()


def test_sse_on_the_other_process_receives_every_status(two_processes):
    writer, subscriber = two_processes
    code = new_request(writer.db)
    record(writer.db, code, "CallingUser")
    with requests.get(f"{subscriber}/events/callbacks/{code}", stream=True, timeout=30) as response:
        stream = events_of(response)
        assert next(stream)["data"]["status"] == "CallingUser"
        record(writer.db, code, *SUCCESS[1:])  # committed by the writer, announced by NOTIFY
        assert [e["data"]["status"] for e in stream] == SUCCESS[1:] + ["CallSucceeded"]


def test_signalr_on_the_other_process_with_a_token_from_either(two_processes):
    writer, subscriber = two_processes
    code = new_request(writer.db)
    record(writer.db, code, "CallingUser")
    client = Connection(writer.events_url)  # negotiated with the writer ...
    client.base = subscriber + "/signalr"  # ... streaming from the other process: one key for both
    with requests.get(client.base + "/connect", stream=True, timeout=30,
                      params={**client.params(), "transport": "serverSentEvents"}) as response:
        frames = (json.loads(line[len("data: "):]) for line in response.iter_lines(decode_unicode=True)
                  if line.startswith("data: {"))
        assert next(frames)["S"] == 1  # the stream is open and waiting
        assert client.invoke("Subscribe", code).json() == {"I": "0"}
        received = statuses(next(frames))
        assert received == [(code, "CallingUser")]
        record(writer.db, code, *SUCCESS[1:])
        while "closeConnection" not in received:
            received += statuses(next(frames))
    assert received == [(code, status) for status in SUCCESS] + ["closeConnection"]


def test_the_seed_page_on_the_process_that_does_not_execute_the_callback(two_processes, browser, website):
    writer, subscriber = two_processes
    page = open_page(browser, website, "2.4.3", subscriber)
    try:
        code = request_callback(writer, buzzeasy.ANSWERS)  # executed by the writer's engine
        follow(page, code)
        assert finish(page) == [f"{code} {status}" for status in SUCCESS]
    finally:
        page.close()
