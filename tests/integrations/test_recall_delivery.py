"""The outbox every Recall delivery uses: retries with the same idempotency key, the dead
letter and its retry from the `callsuite outbox` command, the SOAP CRM failing first, and
at-least-once delivery across a SIGKILL of `callsuite serve` mid-delivery."""
from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import requests
from helpers.audio import tone_mp3
from helpers.receivers import HttpReceiver, SoapCrm, wait_until
from helpers.server import CTI_TOKEN, DEMO_SITE, REPO, cli_database_options, start_server
from sqlalchemy import select

from storage.database import Database, sqlite_url
from storage.models import OutboxEntry

TEMPLATE = "/crm?number=[phone number]&agent=[extension]&ref=[reference]"


def site_with(**company) -> dict:
    site = copy.deepcopy(json.loads(DEMO_SITE.read_text()))
    site["companies"][0].update(company)
    return site


def callsuite(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "services.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def entries_of(database) -> list[OutboxEntry]:
    with database.session() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


@pytest.fixture
def receivers():
    made = []
    yield made
    for receiver in made:
        receiver.close()


def test_a_receiver_failing_twice_gets_the_third_attempt_with_the_same_key(tmp_path, receivers):
    receiver = HttpReceiver(statuses=[500, 503])
    receivers.append(receiver)
    live = start_server(tmp_path / "data", site=site_with(crm_url_template=receiver.base_url + TEMPLATE),
                        outbox_interval_s=0.1)
    try:
        reference = live.recorded_call().reference
        requests_seen = receiver.wait_for(3)
        [entry] = wait_until(lambda: [e for e in entries_of(live.db) if e.state == "sent"])
    finally:
        live.stop()
    assert [r.query["ref"] for r in requests_seen] == [[reference]] * 3
    keys = {r.headers["idempotency-key"] for r in requests_seen}
    assert keys == {entry.idempotency_key}  # a receiver can drop the repeats
    assert (entry.kind, entry.attempts, entry.last_error) == ("crm_url", 3, None)


def test_the_soap_crm_failing_first_is_retried_with_the_same_request_id(tmp_path, receivers):
    crm = SoapCrm(failures=1)
    receivers.append(crm)
    live = start_server(tmp_path / "data", outbox_interval_s=0.1, site=site_with(crm_web_service={
        "kind": "soap", "wsdl": crm.wsdl, "operation": "RecordCall",
        "mapping": {"Reference": "reference", "RequestId": "idempotency_key", "Seconds": "duration"}}))
    try:
        reference = live.recorded_call(talk_s=2.0).reference
        calls = crm.wait_for(2)
        [entry] = wait_until(lambda: [e for e in entries_of(live.db) if e.state == "sent"])
    finally:
        live.stop()
    assert [c["Reference"] for c in calls] == [reference, reference]
    assert {c["RequestId"] for c in calls} == {entry.idempotency_key} and calls[0]["Seconds"] == 2
    assert entry.attempts == 2


def test_dead_letter_and_its_retry_from_the_command_line(tmp_path, receivers):
    receiver = HttpReceiver(then=503)
    receivers.append(receiver)
    data = tmp_path / "data"
    live = start_server(data, site=site_with(crm_url_template=receiver.base_url + TEMPLATE,
                                             hmac_secret="dead-letter-secret-0123"),
                        outbox_interval_s=0.1, outbox_max_attempts=2)
    try:
        live.recorded_call()
        [dead] = wait_until(lambda: [e for e in entries_of(live.db) if e.state == "failed"])
        assert dead.attempts == 2 and dead.last_error.startswith("HTTP 503 from GET")
        listing = callsuite("outbox", "list", "--state", "failed", *cli_database_options(data))
        assert listing.returncode == 0, listing.stderr
        [row] = [line.split("\t") for line in listing.stdout.splitlines()[1:]]
        assert row[:4] == [str(dead.id), "failed", "crm_url", "2"] and row[5] == dead.idempotency_key
        assert "dead-letter-secret" not in listing.stdout + listing.stderr
        assert callsuite("outbox", "list", "--state", "sent", *cli_database_options(data)).stdout.count("\n") == 1

        receiver.then = 200
        retried = callsuite("outbox", "retry", dead.id, *cli_database_options(data))
        assert retried.returncode == 0 and f"outbox entry {dead.id} (crm_url) is pending again" in retried.stdout
        [sent] = wait_until(lambda: [e for e in entries_of(live.db) if e.state == "sent"])
        again = callsuite("outbox", "retry", dead.id, *cli_database_options(data))
        assert again.returncode == 1 and "only failed entries are retried" in again.stderr
        assert callsuite("outbox", "retry", "--all-failed", *cli_database_options(data)).stdout.startswith("0 failed")
    finally:
        live.stop()
    seen = receiver.wait_for(3)
    assert {r.headers["idempotency-key"] for r in seen} == {dead.idempotency_key}
    assert (sent.id, sent.attempts) == (dead.id, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data, port: int) -> subprocess.Popen:
    env = {**os.environ, "CALLSUITE_CTI_TOKEN": CTI_TOKEN, "CALLSUITE_OUTBOX_INTERVAL_S": "0.1",
           "CALLSUITE_OUTBOX_TIMEOUT_S": "1", "CALLSUITE_ACCESS_LOG": "false"}
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--data-dir", str(data),
                                "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=open(data.parent / "serve.log", "ab"))
    base = f"http://127.0.0.1:{port}"

    def healthy():
        if process.poll() is not None:
            raise AssertionError((data.parent / "serve.log").read_text())
        try:
            return requests.get(base + "/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, timeout=30, step=0.1)
    return process


def test_a_delivery_cut_by_sigkill_is_made_after_the_restart_with_the_same_key(tmp_path, receivers):
    receiver = HttpReceiver(hang_first=True)  # takes the first request and never answers it
    receivers.append(receiver)
    data = tmp_path / "data"
    site = tmp_path / "site.json"
    site.write_text(json.dumps(site_with(crm_url_template=receiver.base_url + TEMPLATE)))
    assert callsuite("provision", "--data-dir", data, site).returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(data, port)
    try:
        headers = {"Authorization": f"Bearer {CTI_TOKEN}"}
        for kind, at in (("call.started", "2026-11-30T10:00:00+00:00"), ("call.answered", "2026-11-30T10:00:01+00:00"),
                         ("call.ended", "2026-11-30T10:00:04+00:00")):
            r = requests.post(base + "/cti/v1/events", headers=headers, timeout=10, json={
                "event": kind, "call_id": "killed-1", "at": at, "extension": "201", "direction": "inbound",
                "ani": "+13125550100", "did": "8005551234"})
            assert r.ok, r.text
        r = requests.put(base + "/cti/v1/calls/killed-1/recording", data=tone_mp3(1.0), timeout=10,
                         headers={**headers, "Content-Type": "audio/mpeg"})
        assert r.status_code == 201, r.text
        reference = r.json()["reference"]
        [first] = receiver.wait_for(1)  # the worker is inside the delivery now
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        database = Database(sqlite_url(data))
        [entry] = entries_of(database)
        assert (entry.state, entry.attempts) == ("pending", 1)  # claimed, not lost
        server = serve(data, port)
        [_, second] = receiver.wait_for(2, timeout=30)
        [entry] = wait_until(lambda: [e for e in entries_of(database) if e.state == "sent"], timeout=30)
        database.dispose()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
    assert first.query["ref"] == second.query["ref"] == [reference]
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == entry.idempotency_key
    assert entry.attempts == 2


def test_the_bms_link_notice_carries_the_key_and_the_signature(tmp_path, receivers):
    import hashlib
    import hmac

    import zeep
    from zeep.transports import Transport

    receiver = HttpReceiver()
    receivers.append(receiver)
    secret = "bms-notice-signing-secret"
    live = start_server(tmp_path / "data", outbox_interval_s=0.1, site=site_with(
        bms_notify_url=receiver.base_url + "/bms?activity={activity_id}&ref={ref}", hmac_secret=secret))
    try:
        reference = live.recorded_call().reference
        r = requests.get(live.url("/rest/recording/AddLink"), params={"id": "ACT-SIGNED", "host": "WS-ALICE"}, timeout=10)
        assert r.status_code == 200 and r.json() is None, r.text
        session = requests.Session()
        session.auth = ("bms", "demo-bms-pw")
        soap = zeep.Client(live.url("/soap/recording?wsdl"), transport=Transport(session=session))
        assert soap.service.LinkRecording(activityId="ACT-SIGNED", refNum=reference).State == "linked"
        [request] = receiver.wait_for(1)
        [entry] = wait_until(lambda: [e for e in entries_of(live.db) if e.state == "sent"])
    finally:
        live.stop()
    assert request.query == {"activity": ["ACT-SIGNED"], "ref": [reference]}
    assert request.headers["idempotency-key"] == entry.idempotency_key and entry.kind == "bms_link"
    timestamp = request.headers["x-callsuite-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.{request.target}".encode(), hashlib.sha256).hexdigest()
    assert request.headers["x-callsuite-signature"] == f"sha256={expected}"
