"""Several `callsuite serve` processes on one PostgreSQL database each run a simulated
switch. The calls a crashed process left in progress are ended by the others (a sweep, and
at start), and only those: another running process's live calls are its own (each switch
holds its number, an advisory lock, and its call ids begin with it)."""
from __future__ import annotations

import json
import time

import pytest
import requests
from helpers.postgres import PostgresServer
from helpers.process import ServeProcess
from helpers.server import DEMO_SITE
from sqlalchemy import select

from services.core.provisioning import provision
from storage.database import Database
from storage.models import Call


@pytest.fixture
def shared(tmp_path):
    postgres = PostgresServer().start()
    url = postgres.create_database("owners")
    processes: list[ServeProcess] = []

    def serve() -> ServeProcess:
        process = ServeProcess(tmp_path / "data", config=f'database_url = "{url}"\ncrashed_calls_sweep_s = 0.5\n')
        processes.append(process)
        return process.start()

    database = Database(url)
    try:
        yield serve, database
    finally:
        for process in processes:
            process.stop()
        database.dispose()
        postgres.stop()


def live_call(server: ServeProcess, extension: str) -> str:
    r = requests.post(server.url("/sim/v1/calls"), timeout=10, json={
        "extension": extension, "ani": "+13125550100", "did": "8005551234", "answer_after_s": 0.1, "duration_s": 3600})
    assert r.status_code == 201, r.text
    call_id = r.json()["call_id"]
    deadline = time.monotonic() + 30
    while (state := requests.get(server.url(f"/sim/v1/calls/{call_id}"), timeout=10).json())["state"] != "answered":
        assert time.monotonic() < deadline and state["state"] != "ended", state
        time.sleep(0.1)
    return call_id


def states(database: Database, *call_ids: str) -> dict:
    with database.read_session() as session:
        calls = session.scalars(select(Call).where(Call.external_id.in_(call_ids))).all()
        return {call.external_id: (call.state, call.result) for call in calls}


def test_a_starting_process_ends_only_the_calls_of_stopped_ones(shared):
    serve, database = shared
    first = serve()
    with database.session() as session:
        provision(session, json.loads(DEMO_SITE.read_text()))
    on_first = live_call(first, "201")
    second = serve()  # starts while the first's call is live
    on_second = live_call(second, "202")
    assert on_first[:8] != on_second[:8]  # each switch its own number
    assert states(database, on_first, on_second) == {on_first: ("answered", None), on_second: ("answered", None)}

    first.kill()  # a crash: its call is left in progress in the database, until the second's sweep
    deadline = time.monotonic() + 30
    while states(database, on_first)[on_first] != ("ended", "Interrupted"):
        assert time.monotonic() < deadline, states(database, on_first)
        time.sleep(0.1)
    assert requests.get(second.url("/bluebutler/service/AddLink/id=AFTER-CRASH"), timeout=10,
                        params={"host": "WS-ALICE", "activeCall": "TRUE"}).text.strip() == "No Active Call"
    third = serve()  # starting, it ends nothing of the second's
    assert live_call(third, "201")[:8] not in (on_first[:8], on_second[:8])
    time.sleep(1.5)  # three sweeps of each process
    assert states(database, on_second) == {on_second: ("answered", None)}
    assert requests.get(second.url(f"/sim/v1/calls/{on_second}"), timeout=10).json()["state"] == "answered"
    assert requests.get(third.url("/bluebutler/service/AddLink/id=STILL-LIVE"), timeout=10,
                        params={"host": "WS-BOB", "activeCall": "TRUE"}).text.strip().isdigit()
