"""Nothing lost, nothing twice: `callsuite serve` killed with SIGKILL mid-attempt resumes the
request after a restart without dialling the same attempt twice; two server processes on
one PostgreSQL database never execute the same request twice."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import requests
from helpers import buzzeasy as b
from helpers.postgres import PostgresServer
from helpers.server import REPO
from sqlalchemy import func, select

from services.core import callbacks
from storage.database import Database, sqlite_url
from storage.models import Call, CallbackEvent, CallbackRequest

SUCCESS = ["CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_value(value) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join("{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in rule.items()) + "}"
                               for rule in value) + "]"
    return json.dumps(value)


def write_config(path, **overrides) -> None:
    options = {**b.FAST_ENGINE, "host": "127.0.0.1", "access_log": False, **overrides}
    path.write_text("[callsuite]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in options.items()))


def cli(*args, timeout=120) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "services.cli", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


class Serve:
    def __init__(self, *args) -> None:
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", *map(str, args),
                                         "--port", str(self.port), "--events-port", "0"], cwd=REPO, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert self.process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return self.base + path

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def request_asap(server, phone: str = b.ANSWERS) -> str:
    answer = b.rest(server, "RequestCallWhenAvailable", {"name": "Restart", "phoneNo": phone, "serviceQueue": "1",
                                                         "company": "1", "password": b.COMPANY_PASSWORD}).json()
    assert answer["ResultCode"] == 0, answer
    return answer["ConfirmationCode"]


def history(db: Database, code: str) -> list[tuple[str, int]]:
    with db.read_session() as session:
        request = callbacks.by_confirmation_code(session, code)
        return [(e.status, e.attempt) for e in callbacks.history(session, request.id)]


def test_sigkill_mid_attempt_resumes_without_dialling_that_attempt_twice(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "callsuite.toml"
    # The user's phone rings for 3 s before it is answered: time to kill the server
    # while the first attempt's user leg rings.
    write_config(config, callback_answer_after_s=3.0)
    site = tmp_path / "site.json"
    site.write_text(json.dumps(b.site(agents=[7])))
    cli("provision", "--data-dir", data, "--config", config, site)
    db = Database(sqlite_url(data))
    server = Serve("--data-dir", data, "--config", config)
    try:
        code = request_asap(server)
        def ringing():
            with db.read_session() as session:
                dialled = callbacks.by_confirmation_code(session, code).user_call_id is not None
            return dialled and history(db, code) == [("CallingUser", 1)]
        b.wait_for(ringing, what="the first attempt's user leg to ring")
        server.kill()
        assert history(db, code) == [("CallingUser", 1)]  # killed while the user's phone rang
        with db.read_session() as session:
            row = callbacks.by_confirmation_code(session, code)
            assert (row.state, row.attempts) == ("calling", 1) and row.user_call_id
        server = Serve("--data-dir", data, "--config", config)
        b.wait_for(lambda: history(db, code)[-1][0] in ("CallSucceeded", "CallFailed"), timeout_s=30,
                   what="the request to finish after the restart")
        # The interrupted attempt is closed as failed and the next one runs: nothing lost.
        assert history(db, code) == [("CallingUser", 1), ("CallingUserFailed", 1), ("Rescheduled", 1)] + [
            (status, 2) for status in SUCCESS]
        with db.read_session() as session:
            row = callbacks.by_confirmation_code(session, code)
            legs = list(session.scalars(select(Call.target).where(Call.callback_request_id == row.id)
                                        .order_by(Call.id)))
        assert (row.state, row.attempts, row.retries) == ("succeeded", 2, 1)
        assert legs.count(b.ANSWERS) == 2  # the user was dialled once per attempt, never twice for one
    finally:
        server.stop()
        db.dispose()


def test_two_processes_on_postgresql_never_run_a_request_twice(tmp_path):
    postgres = PostgresServer().start()
    servers = []
    try:
        url = postgres.create_database("two")
        config = tmp_path / "callsuite.toml"
        write_config(config, callback_concurrency=3, callback_interval_s=0.05)
        site = tmp_path / "site.json"
        site.write_text(json.dumps(b.site(agents=[7])))
        cli("provision", "--database-url", url, "--data-dir", tmp_path / "a", "--config", config, site)
        servers = [Serve("--database-url", url, "--data-dir", tmp_path / name, "--config", config)
                   for name in ("a", "b")]
        codes = [request_asap(servers[i % 2]) for i in range(12)]
        db = Database(url)
        try:
            def all_done():
                with db.read_session() as session:
                    return session.scalar(select(func.count()).select_from(CallbackRequest).where(
                        CallbackRequest.state.in_(("open", "calling")))) == 0
            b.wait_for(all_done, timeout_s=60, what="every request to finish")
            with db.read_session() as session:
                rows = list(session.scalars(select(CallbackRequest).where(CallbackRequest.confirmation_code.in_(codes))))
                dials = Counter(session.scalars(select(Call.callback_request_id).where(
                    Call.target == b.ANSWERS, Call.callback_request_id.is_not(None))))
                started = Counter(session.scalars(select(CallbackEvent.request_id).where(
                    CallbackEvent.status == "CallingUser")))
            assert len(rows) == 12
            for row in rows:
                assert (row.state, row.attempts) == ("succeeded", 1)
                assert history(db, row.confirmation_code) == [(s, 1) for s in SUCCESS]
                assert dials[row.id] == 1 and started[row.id] == 1
            workers = {row.claimed_by.rsplit(":", 2)[1] for row in rows}
            assert workers <= {str(s.process.pid) for s in servers}
        finally:
            db.dispose()
    finally:
        for server in servers:
            server.stop()
        postgres.stop()
