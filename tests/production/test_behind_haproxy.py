"""The production layout (README, "Production layout"): two `callsuite serve` processes on
one PostgreSQL database and one recording store, behind HAProxy started on
deploy/haproxy.cfg, balancing round-robin with no stickiness. HAProxy names the process
that answered in X-Callsuite-Backend, so each test shows its requests really alternate.

Always on PostgreSQL (its own server from helpers/postgres.py), whatever
CALLSUITE_TEST_DATABASE says: several processes need it. The kill test comes last: it
leaves one process."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

import psycopg
import pytest
import requests
from helpers.audio import tone_mp3
from helpers.callbacks import SUCCESS, new_request
from helpers.events import HUBS
from helpers.postgres import PostgresServer
from helpers.process import ServeProcess, free_port
from helpers.receivers import HttpReceiver, wait_until
from helpers.server import DEMO_SITE, REPO, LiveServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text

from services.core import callbacks
from services.core.provisioning import provision
from storage.database import Database
from storage.models import ActivityLink, Call, CallbackEvent, CallbackRequest, OutboxEntry
from storage.shared_slots import SharedSlots

HAPROXY_CONFIG = REPO / "deploy" / "haproxy.cfg"
BMS = ("bms", "demo-bms-pw")  # the demo site's listener with global listening rights
COMPANY_PASSWORD = "demo-company-pw"
CALLBACK_PHONE = "+447779453115"
ADDLINK_ROUTE = "/bluebutler/service/AddLink/id=<path:activity_id>"
MP3_ROUTE = "/bluebutler/service/MP3/<reference>"
CALLBACK_ROUTE = "/RequestCallbackService/Service.svc/rest/<operation>"
PLAYBACK_CHANNELS = 2
OUTBOX_ATTEMPTS = 2
CONFIG = f"""
playback_channels = {PLAYBACK_CHANNELS}
trusted_proxy = "127.0.0.1"
outbox_interval_s = 0.2
outbox_max_attempts = {OUTBOX_ATTEMPTS}
outbox_backoff_cap_s = 0.5
callback_interval_s = 0.1
callback_answer_after_s = 0.2
callback_agent_answer_s = 0.2
callback_talk_s = 3.0
callback_retry_delay_s = 0.3
callback_ring_timeout_s = 10.0
callback_lease_s = 3.0
crashed_calls_sweep_s = 1
events_long_poll_s = 5
events_keepalive_s = 2
events_db_poll_s = 1
"""


class Proxy:
    """HAProxy on deploy/haproxy.cfg: the addresses through the environment, as the file says."""

    def __init__(self, root: Path, services: list[int], events: list[int]) -> None:
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        assert os.path.exists(haproxy), "HAProxy is not installed: apt-get install haproxy (.ci/run does)"
        self.port, self.events_port = free_port(), free_port()
        environment = {**os.environ, "CALLSUITE_BIND": f"127.0.0.1:{self.port}",
                       "CALLSUITE_EVENTS_BIND": f"127.0.0.1:{self.events_port}", "CALLSUITE_CHECK_INTER": "200ms",
                       **{f"CALLSUITE_{n}": f"127.0.0.1:{port}" for n, port in enumerate(services, 1)},
                       **{f"CALLSUITE_EVENTS_{n}": f"127.0.0.1:{port}" for n, port in enumerate(events, 1)}}
        self.log = root / "haproxy.log"
        self.process = subprocess.Popen([haproxy, "-db", "-f", str(HAPROXY_CONFIG)], env=environment,
                                        stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.events_url = f"http://127.0.0.1:{self.events_port}"
        # Up once both processes have answered through it, on both frontends.
        for base in (self.url, self.events_url):
            seen: set = set()

            def both_seen(base=base, seen=seen):
                assert self.process.poll() is None, self.log.read_text()
                try:
                    seen.add(backend(requests.get(base + "/health", timeout=2)))
                except (requests.ConnectionError, requests.Timeout):
                    pass
                return len(seen - {None}) == 2
            # Two processes just started beside other test modules: HAProxy's checks of a busy
            # one can take longer than 20 s to pass (once seen in CI).
            wait_until(both_seen, timeout=60)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def backend(response: requests.Response) -> Optional[str]:
    return response.headers.get("X-Callsuite-Backend")


def alternate(responses) -> bool:
    names = [backend(r) for r in responses]
    return None not in names and all(a != b for a, b in zip(names, names[1:], strict=False))


def scrape(url: str) -> dict:
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def total(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(value for (sample, sample_labels), value in samples.items()
               if sample == name and wanted <= set(sample_labels))


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.postgres = PostgresServer().start()
        self.database_url = self.postgres.create_database("production")
        self.crm = HttpReceiver()  # Recall's CRM URL: answers 200
        self.crm_service = HttpReceiver(then=500)  # Recall's CRM web service: always fails
        self.data_dir = root / "data"  # one recording store for both processes
        config = f'database_url = "{self.database_url}"\n' + CONFIG
        self.processes = [ServeProcess(self.data_dir, config=config, events_port=free_port()) for _ in range(2)]
        # Both start at once on the empty database: each migrates under the advisory lock.
        for process in self.processes:
            process.launch()
        for process in self.processes:
            process.wait_until_healthy()
        self.database = Database(self.database_url)
        self.provision()
        self.proxy = Proxy(root, [p.port for p in self.processes], [p.events_port for p in self.processes])
        # The proxy speaks for the processes: LiveServer's CTI client methods work on its URL.
        self.client = LiveServer(self.proxy.url, None, None, None)

    def provision(self) -> None:
        site = json.loads(DEMO_SITE.read_text())
        recall = next(company for company in site["companies"] if company["id"] == 2)
        recall["crm_url_template"] = f"{self.crm.base_url}/crm?ref=[reference]&number=[phone number]"
        recall["crm_web_service"] = {"kind": "json", "url": f"{self.crm_service.base_url}/calls"}
        site["queues"][0]["opening_hours"] = {"mon-sun": "00:00-23:59:59"}  # callbacks run at any hour
        with self.database.session() as session:
            provision(session, site)

    def url(self, path: str) -> str:
        return self.proxy.url + path

    def logs(self) -> str:
        return "\n".join(p.log.read_text() for p in self.processes)

    def close(self) -> None:
        for process in self.processes:  # all stop at once, then each is waited for
            if process.process is not None and process.process.poll() is None:
                process.process.terminate()
        for step in ([self.proxy.stop] if hasattr(self, "proxy") else []) + [p.stop for p in self.processes] + [
                self.database.dispose, self.crm.close, self.crm_service.close, self.postgres.stop]:
            try:
                step()
            except Exception:
                pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("production"))
    try:
        yield cluster
    finally:
        cluster.close()


def request_callback(cluster, phone: str = CALLBACK_PHONE) -> requests.Response:
    return requests.post(cluster.url("/RequestCallbackService/Service.svc/rest/RequestCallWhenAvailable"),
                         json={"name": "Customer", "phoneNo": phone, "serviceQueue": "1", "company": "1",
                               "password": COMPANY_PASSWORD}, timeout=20)


def test_both_processes_started_at_once_on_the_empty_database(cluster):
    with cluster.database.read_session() as session:
        versions = session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert len(versions) == 1
    assert cluster.database.pending_migrations() == []
    assert "Traceback" not in cluster.logs()


def test_addlink_and_mp3_on_alternate_processes(cluster):
    links = [requests.get(cluster.url(f"/bluebutler/service/AddLink/id=PROD-{i}"), timeout=10) for i in range(6)]
    assert [r.status_code for r in links] == [200] * 6 and alternate(links)
    with cluster.database.read_session() as session:
        stored = set(session.scalars(select(ActivityLink.activity_id).where(ActivityLink.activity_id.like("PROD-%"))))
    assert stored == {f"PROD-{i}" for i in range(6)}

    audio = tone_mp3(2.0)
    call = cluster.client.recorded_call("201", audio=audio)  # its events and upload alternate too
    answers = [requests.get(cluster.url(f"/bluebutler/service/MP3/{call.reference}"), auth=BMS, timeout=10)
               for _ in range(2)]
    ranged = [requests.get(cluster.url(f"/bluebutler/service/MP3/{call.reference}"), auth=BMS, timeout=10,
                           headers={"Range": "bytes=100-199"}) for _ in range(2)]
    assert [r.status_code for r in answers] == [200, 200] and [r.status_code for r in ranged] == [206, 206]
    assert alternate(answers + ranged)
    assert all(r.content == audio for r in answers) and all(r.content == audio[100:200] for r in ranged)


def test_the_playback_channel_pool_is_shared_not_doubled(cluster):
    call = cluster.client.recorded_call("201", talk_s=4.0)
    plays = [requests.get(cluster.url(f"/bluebutler/service/PlayByPhone/{call.reference}/+442079460111"),
                          auth=BMS, timeout=10) for _ in range(2 * PLAYBACK_CHANNELS)]
    assert alternate(plays)
    answers = [r.text.strip() for r in plays]
    # Each process alone has PLAYBACK_CHANNELS; together still only PLAYBACK_CHANNELS.
    assert sorted(answers) == sorted(["TRUE"] * PLAYBACK_CHANNELS
                                     + ["ERROR: No Playback Channels"] * PLAYBACK_CHANNELS), answers
    for process in cluster.processes:  # every process reports the shared pool
        assert scrape(process.base_url)[("callsuite_playback_channels_free", ())] == 0
    # The channels come back when the playbacks end (2 s to answer, then 4 s of audio).
    wait_until(lambda: all(scrape(p.base_url)[("callsuite_playback_channels_free", ())] == PLAYBACK_CHANNELS
                           for p in cluster.processes), timeout=20, step=0.25)


def test_a_callback_is_executed_once_and_followed_over_signalr_on_both_processes(cluster):
    hub = cluster.proxy.events_url + "/signalr"
    protocol = {"clientProtocol": "1.5", "connectionData": HUBS}
    negotiated = requests.get(hub + "/negotiate", params=protocol, timeout=10)
    assert negotiated.status_code == 200
    token = negotiated.json()["ConnectionToken"]
    params = {**protocol, "transport": "longPolling", "connectionToken": token}
    connected = requests.post(hub + "/connect", params=params, timeout=10)
    assert connected.status_code == 200, connected.text  # the token from the other process is good here
    answer = request_callback(cluster)
    assert answer.status_code == 200 and answer.json()["ResultCode"] == 0, answer.text
    code = answer.json()["ConfirmationCode"]
    subscribed = requests.post(hub + "/send", params=params, timeout=10, data={"data": json.dumps(
        {"H": "notifyme", "M": "Subscribe", "A": [code], "I": 0})})
    assert subscribed.status_code == 200 and subscribed.json() == {"I": "0"}, subscribed.text

    exchanges, received = [negotiated, connected, subscribed], []
    message_id = connected.json()["C"]
    deadline = time.monotonic() + 30
    while "CallSucceeded" not in received:
        assert time.monotonic() < deadline, received
        poll = requests.post(hub + "/poll", params=params, data={"messageId": message_id}, timeout=30)
        assert poll.status_code == 200, poll.text  # a message id from either process is good on both
        exchanges.append(poll)
        message_id = poll.json()["C"]
        for message in poll.json().get("M", []):
            if message.get("M") == "updateStatus":
                assert message["A"][0] == code
                received.append(message["A"][1])
    assert alternate(exchanges)
    assert received == SUCCESS[SUCCESS.index(received[0]):], received  # in order, none twice

    with cluster.database.read_session() as session:
        request = session.scalar(select(CallbackRequest).where(CallbackRequest.confirmation_code == code))
        statuses = list(session.scalars(select(CallbackEvent.status).where(CallbackEvent.request_id == request.id)
                                        .order_by(CallbackEvent.id)))
        user_legs = session.scalar(select(func.count()).select_from(Call).where(
            Call.callback_request_id == request.id, Call.target == CALLBACK_PHONE))
    assert statuses == SUCCESS  # executed once: one attempt, by one of the two engines
    assert user_legs == 1


def test_each_outbox_entry_is_delivered_once(cluster):
    references = [cluster.client.recorded_call("501").reference for _ in range(4)]
    crm = wait_until(lambda: len({r.query["ref"][0] for r in cluster.crm.received} & set(references)) == 4
                     and cluster.crm.received)

    def settled():
        with cluster.database.read_session() as session:
            states = session.execute(select(OutboxEntry.kind, OutboxEntry.state, OutboxEntry.attempts)).all()
        return states if all(state != "pending" for _, state, _ in states) and len(states) >= 8 else None
    states = wait_until(settled, timeout=20)  # sent and failed are final: nothing more is delivered
    delivered = [r.query["ref"][0] for r in cluster.crm.received]
    assert sorted(delivered) == sorted(references), delivered  # each exactly once, by either process
    assert len(crm) == 4
    # The failing web service: each notice tried exactly outbox_max_attempts times, then a dead letter.
    assert len(cluster.crm_service.received) == 4 * OUTBOX_ATTEMPTS
    assert sorted(states) == sorted([("crm_url", "sent", 1)] * 4 + [("crm_web_service", "failed", OUTBOX_ATTEMPTS)] * 4)


def gauge(samples: dict, name: str, state: Optional[str] = None) -> float:
    return samples.get((name, (("state", state),) if state else ()), 0)


def test_metrics_on_each_process(cluster):
    """Each family issue 14 names, scraped from each process, moving with what is done through the proxy."""
    before = [scrape(p.base_url) for p in cluster.processes]
    links = [requests.get(cluster.url(f"/bluebutler/service/AddLink/id=METRICS-{i}"), timeout=10) for i in range(2)]
    call = cluster.client.recorded_call("501")  # Recall's company: one CRM URL and one web-service notice
    mp3s = [requests.get(cluster.url(f"/bluebutler/service/MP3/{call.reference}"), auth=BMS, timeout=10)
            for _ in range(2)]
    ewts = [requests.post(cluster.url("/RequestCallbackService/Service.svc/rest/GetEWTByServiceID"), timeout=10,
                          json={"companyID": 1, "password": COMPANY_PASSWORD, "serviceQueueID": 1}) for _ in range(2)]
    assert [r.status_code for r in links + mp3s + ewts] == [200] * 6 and alternate(links) and alternate(mp3s)
    started = cluster.client.cti({"event": "call.started", "call_id": "metrics-live", "extension": "202",
                                  "at": "2026-12-01T10:00:00+00:00"})
    assert started.status_code == 201, started.text
    # The web-service notice fails twice and is a dead letter; the CRM URL notice is sent.
    wait_until(lambda: (lambda now: gauge(now, "callsuite_outbox_entries", "failed")
                        == gauge(before[0], "callsuite_outbox_entries", "failed") + 1
                        and gauge(now, "callsuite_outbox_entries", "pending") == 0)(scrape(cluster.processes[0].base_url)))
    code = new_request(cluster.database)  # a request the engines leave alone: its stream stays open
    with requests.get(cluster.proxy.events_url + f"/events/callbacks/{code}", stream=True, timeout=30) as stream:
        next(stream.iter_lines())
        during = [scrape(p.base_url) for p in cluster.processes]

    def moved(old, new, name, **labels) -> float:
        return total(new, name, **labels) - total(old, name, **labels)

    requests_total, latency = "callsuite_http_requests_total", "callsuite_http_request_duration_seconds"
    for old, new in zip(before, during, strict=True):
        # Each process's own: it answered one of each pair (round-robin), counted and timed per route and binding.
        assert moved(old, new, requests_total, route=ADDLINK_ROUTE, binding="http", method="GET", status="200") == 1
        assert moved(old, new, latency + "_count", route=ADDLINK_ROUTE, binding="http") == 1
        assert moved(old, new, latency + "_bucket", route=ADDLINK_ROUTE, binding="http", le="+Inf") == 1
        assert moved(old, new, requests_total, route=MP3_ROUTE, binding="http", status="200") == 1
        assert moved(old, new, requests_total, route=CALLBACK_ROUTE, binding="http", method="POST", status="200") == 1
        assert moved(old, new, latency + "_count", route=CALLBACK_ROUTE, binding="http") == 1
        # Read from the shared database: every process reports the same.
        assert gauge(new, "callsuite_calls_in_progress") == gauge(old, "callsuite_calls_in_progress") + 1
        assert gauge(new, "callsuite_outbox_entries", "sent") == gauge(old, "callsuite_outbox_entries", "sent") + 1
        assert gauge(new, "callsuite_outbox_entries", "failed") == gauge(old, "callsuite_outbox_entries", "failed") + 1
        assert gauge(new, "callsuite_callback_requests", "open") == gauge(old, "callsuite_callback_requests", "open") + 1
        assert gauge(new, "callsuite_playback_channels_free") == PLAYBACK_CHANNELS  # the shared pool, idle
    # This process's own: the open stream is held by one of the two.
    assert sorted(gauge(s, "callsuite_event_subscribers") for s in during) == [0, 1]
    wait_until(lambda: all(gauge(scrape(p.base_url), "callsuite_event_subscribers") == 0 for p in cluster.processes))
    ended = cluster.client.cti({"event": "call.ended", "call_id": "metrics-live", "at": "2026-12-01T10:01:00+00:00"})
    assert ended.ok, ended.text


def test_shared_slots_are_one_set_for_every_holder(cluster):
    """The mechanism under the shared playback pool, on its own key: what one session
    holds no other may take, until it gives it back or its connection ends."""
    key = 0x54657374  # not the playback channels' key
    first, second = (SharedSlots(cluster.database.engine, key) for _ in range(2))
    try:
        assert first.take(1) and not second.take(1) and second.take(2)
        assert first.taken() == second.taken() == 2
        first.give_back(1)
        assert second.take(1) and not first.take(1)
        second.close()  # gives both back as it ends its session
        assert first.taken() == 0 and first.take(1) and first.take(2)
        first.give_back(1)
        first.give_back(2)
        # A holder whose session ends without giving back (a process killed): PostgreSQL
        # frees its slots once the backend has exited, a moment later.
        holder = psycopg.connect(cluster.database.engine.url.set(drivername="postgresql")
                                 .render_as_string(hide_password=False), autocommit=True)
        holder.execute("SELECT pg_advisory_lock(%s::int4, 3)", (key,))
        assert first.taken() == 1 and not first.take(3)
        holder.close()
        wait_until(lambda: first.taken() == 0)
        assert first.take(3)
    finally:
        first.close()
        second.close()


def test_a_process_killed_under_load_loses_nothing_accepted(cluster):
    answered: list[tuple[str, str, Optional[int]]] = []  # (what, key, HTTP status or None)
    stopping = threading.Event()

    def load() -> None:
        number = 0
        while not stopping.is_set():
            number += 1
            try:
                if number % 4:
                    key = f"KILL-{number}"
                    r = requests.get(cluster.url(f"/bluebutler/service/AddLink/id={key}"), timeout=10)
                    answered.append(("link", key, r.status_code))
                else:
                    r = request_callback(cluster, f"+4477794531{number // 4 % 100:02d}")
                    ok = r.status_code == 200 and r.json().get("ResultCode") == 0
                    answered.append(("callback", r.json()["ConfirmationCode"] if ok else "", r.status_code))
            except requests.RequestException:
                answered.append(("lost", "", None))

    killed, survivor = cluster.processes
    # The process to be killed is playing a recording: it holds one of the shared channels.
    recording = cluster.client.recorded_call("201", talk_s=4.0).reference
    play = requests.get(killed.url(f"/bluebutler/service/PlayByPhone/{recording}/+442079460111"), auth=BMS, timeout=10)
    assert play.text.strip() == "TRUE"
    assert gauge(scrape(survivor.base_url), "callsuite_playback_channels_free") == PLAYBACK_CHANNELS - 1
    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(answered) >= 20)
        killed.kill()
        at_kill = len(answered)
        wait_until(lambda: len(answered) >= at_kill + 40, timeout=30)
    finally:
        stopping.set()
        thread.join(timeout=20)

    after = answered[at_kill:]
    failed = [entry for entry in after if entry[2] != 200]
    # Only requests the killed process was answering at that moment may fail ...
    assert len(failed) <= 3, failed
    # ... and once HAProxy's check has seen it go, everything is answered by the other.
    assert all(status == 200 for _, _, status in after[-20:]), after[-20:]
    assert requests.get(cluster.url("/health"), timeout=5).json()["status"] == "ok"

    links = {key for what, key, status in answered if what == "link" and status == 200}
    codes = {key for what, key, status in answered if what == "callback" and status == 200}
    assert len(codes) >= 5
    with cluster.database.read_session() as session:
        stored_links = set(session.scalars(select(ActivityLink.activity_id)
                                           .where(ActivityLink.activity_id.like("KILL-%"))))
        stored_codes = set(session.scalars(select(CallbackRequest.confirmation_code)
                                           .where(CallbackRequest.confirmation_code.in_(codes))))
    assert links <= stored_links and codes == stored_codes  # every request answered 200 is stored

    # The callbacks the killed process was executing are taken over once its lease ends.
    def all_finished():
        with cluster.database.read_session() as session:
            finals = session.scalars(select(CallbackEvent.status).join(CallbackRequest)
                                     .where(CallbackRequest.confirmation_code.in_(codes),
                                            CallbackEvent.status == "CallSucceeded")).all()
        return len(finals) == len(codes)
    try:
        wait_until(all_finished, timeout=60, step=0.25)
    except AssertionError:
        said = [line for line in survivor.log.read_text().splitlines()
                if any(word in line for word in ("callback", "Error", "WARNING", "Traceback"))]
        raise AssertionError(f"callbacks not all CallSucceeded: {unfinished(cluster, codes)}; "
                             f"what the survivor logged: {said[-30:]}") from None
    assert survivor.process.poll() is None
    # The killed process's channel was freed with its connection: the whole pool plays again.
    plays = [requests.get(cluster.url(f"/bluebutler/service/PlayByPhone/{recording}/+442079460111"), auth=BMS,
                          timeout=10).text.strip() for _ in range(PLAYBACK_CHANNELS)]
    assert plays == ["TRUE"] * PLAYBACK_CHANNELS


def unfinished(cluster, codes) -> dict:
    """Each request that has not succeeded: its state, attempts and status history."""
    with cluster.database.read_session() as session:
        pending = session.scalars(select(CallbackRequest).where(CallbackRequest.confirmation_code.in_(codes),
                                                                CallbackRequest.state != "succeeded")).all()
        return {r.confirmation_code: (r.state, r.attempts, r.claimed_by,
                                      [(e.attempt, e.status, e.at.isoformat()) for e in callbacks.history(session, r.id)])
                for r in pending}
