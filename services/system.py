"""The composition root: one `System` holds the settings, the database, the recording
store, the switch and the background workers, and decides which edges are mounted.
Nothing is global, so a test builds as many independent systems as it likes; the CLI and
the tests build the server through the same `create_server`."""
from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import uuid
from typing import Optional

from services.agent import edge as agent_edge
from services.callback import edge as callback_edge
from services.calldata import edge as calldata_edge
from services.config import Settings
from services.console import edge as console_edge
from services.core import audit, events, ledger, security, stats
from services.core.calldetails import address_allowed
from services.core.callfacts import facts_of
from services.core.errors import CallsuiteError
from services.core.throttle import SigninThrottle
from services.events.server import EventsServer
from services.http.app import build_wsgi, create_http_server, health_route, openapi_route
from services.http.metrics import Metrics
from services.http.routing import Route
from services.info import edge as info_edge
from services.ingest import cti as cti_edge
from services.ingest import sim as sim_edge
from services.integrations import recall as recall_integrations
from services.integrations.callback_worker import callback_worker
from services.integrations.outbox_worker import OutboxWorker
from services.recording import edge as recording_edge
from storage import notify
from storage.database import Database
from storage.models import ID_MAX
from storage.recordings import RecordingStore
from storage.shared_slots import PLAYBACK_CHANNELS, SWITCH_OWNERS, SharedSlots

log = logging.getLogger(__name__)


class LedgerSink:
    """Receives what the switch reports and writes it to the call ledger."""

    def __init__(self, database: Database, store: RecordingStore, default_region: str,
                 source: str = "sim") -> None:
        self.database = database
        self.store = store
        self.default_region = default_region
        self.source = source

    def handle(self, event) -> None:
        if event.kind != "recording.ready":
            with self.database.unit() as session:
                ledger.apply_event(session, ledger.CallEvent(
                    event.kind, self.source, event.call_id, event.at, **facts_of(event),
                ), default_region=self.default_region)
            return
        with self.database.session() as session:
            call = ledger.find_call(session, self.source, event.call_id)
            if call is None:
                raise CallsuiteError(f"recording for unknown call {event.call_id}")
            ledger.attach_audio(
                session, call, file_path=event.recording_path, size_bytes=self.store.size(event.recording_path),
                duration_s=event.duration_s, at=event.at, gaps=[ledger.Gap(g.offset_s, g.length_s) for g in event.gaps])


BACKGROUND_CONNECTIONS = 8
RECOVERING = 0  # the switch-owner slot held while recovering (no switch's number)
_OWNED_CALL = re.compile(r"([0-9a-f]{8})[0-9a-f]{24}")  # a simulated call's id begins with its switch's number


class _Periodically:
    """A background worker that runs `work` every `interval_s` seconds (errors are logged)."""

    def __init__(self, work, interval_s: float, name: str) -> None:
        self._work, self._interval_s, self._name = work, interval_s, name
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self._work()
            except Exception:
                log.exception("%s failed", self._name)


class System:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.events = events.EventBus()
        self.audit = audit.AuditLog().register(self.events)  # audit entries, in the actions' transactions
        # Every request thread, and the background workers (switch, outbox, callbacks, events).
        self.database = Database(settings.effective_database_url, hooks=self.events,
                                 pool_size=settings.threads + BACKGROUND_CONNECTIONS)
        self.instance_id = uuid.uuid4().hex  # tells this process's notifications from others'
        self._listener = None
        if not self.database.is_sqlite:
            self.events.forward = self._notify_others
        self.store = RecordingStore(settings.recordings_dir)
        self.sink = LedgerSink(self.database, self.store, settings.default_region)
        self.throttle = SigninThrottle.from_settings(settings)
        self.switch = None
        # Processes sharing a PostgreSQL database share one pool of playback channels.
        self.playback_slots = None if self.database.is_sqlite else SharedSlots(self.database.engine, PLAYBACK_CHANNELS)
        # ... and tell each other's simulated calls apart: slot n is held by the live process
        # whose call ids begin with n (8 hex digits).
        self.switch_owners = None if self.database.is_sqlite else SharedSlots(self.database.engine, SWITCH_OWNERS)
        self.call_id_prefix = ""
        self._workers: list = []
        self.metrics = Metrics(gauges=self._gauges)
        self._started = threading.Event()
        self.events_server = EventsServer(self)
        self.add_worker(self.events_server)
        self.add_worker(OutboxWorker(self.database, interval_s=settings.outbox_interval_s,
                                     max_attempts=settings.outbox_max_attempts,
                                     backoff_cap_s=settings.outbox_backoff_cap_s,
                                     timeout_s=settings.outbox_timeout_s))
        self.callbacks = callback_worker(self)
        self.add_worker(self.callbacks)
        if self.switch_owners is not None and settings.switch == "simulated":
            self.add_worker(_Periodically(lambda: self.recover_interrupted_calls(at_start=False),
                                          settings.crashed_calls_sweep_s, "crashed-calls-sweep"))
        recall_integrations.register(self)

    def _notify_others(self, session, published: list) -> None:
        notify.send(session, [{**events.to_message(e), "origin": self.instance_id} for e in published])

    def _notified(self, message: dict) -> None:
        if message.pop("origin", None) != self.instance_id:
            self.events.deliver([events.from_message(message)])

    def start(self) -> "System":
        self.database.migrate()
        if not self.database.is_sqlite:
            self._listener = notify.Listener(self.database.engine, self._notified)
            self._listener.start()
        if self.switch_owners is not None:
            self.call_id_prefix = self._claim_switch_owner()
        self.recover_interrupted_calls()
        self.store.discard_partials()  # temp files a crash left behind, no call's
        if self.settings.switch == "simulated":
            from services.telephony.outcomes import OutcomeRules
            from services.telephony.simulated import SimulatedSwitch
            self.switch = SimulatedSwitch(
                self.store, self.sink, playback_channels=self.settings.playback_channels,
                outcomes=OutcomeRules.from_config(self.settings.outbound_outcomes), shared_channels=self.playback_slots,
                call_id_prefix=self.call_id_prefix)
        elif self.settings.switch == "sip":
            from services.telephony.sip.driver import SipSwitch
            self.switch = SipSwitch.from_settings(self.settings, self.store, self.sink, shared_channels=self.playback_slots)
        for worker in self._workers:
            worker.start()
        self._started.set()
        return self

    def _claim_switch_owner(self) -> str:
        """A number no live process holds, held by this one while it runs: its call ids' prefix."""
        for _ in range(5):
            number = secrets.randbelow(ID_MAX) + 1
            if self.switch_owners.take(number):
                return f"{number:08x}"
        raise RuntimeError("could not take a switch number on the database (advisory locks unavailable?)")

    def _left_by_a_stopped_switch(self, external_id: str, *, at_start: bool) -> bool:
        """Whether a call in progress in the ledger is a stopped switch's. A call without a
        held number is (its process has stopped); an id without a number (SQLite, the SIP
        switch, ids from before numbers) only at start, when no other switch is assumed."""
        owner = _OWNED_CALL.fullmatch(external_id) if self.switch_owners is not None else None
        number = int(owner.group(1), 16) if owner is not None else 0
        if not 0 < number <= ID_MAX:
            return at_start
        if owner.group(1) == self.call_id_prefix:
            return False  # this process's own
        if self.switch_owners.take(number):  # nobody holds it: that process has stopped
            self.switch_owners.give_back(number)
            return True
        return False

    def recover_interrupted_calls(self, *, at_start: bool = True) -> int:
        """End the calls a stopped simulated switch left in progress (it crashed: they
        lived in its process) as Interrupted, keeping what was recorded of them. On
        PostgreSQL the calls of the other running processes (their switch numbers are held)
        are left alone, and one process recovers at a time (a file is salvaged once); on
        SQLite one switch per database is assumed. Returns how many calls were ended."""
        if self.switch_owners is None:
            return self._recover(at_start)
        deadline = time.monotonic() + (30 if at_start else 0)
        while not self.switch_owners.take(RECOVERING):
            if time.monotonic() >= deadline:
                return 0  # another process is recovering them (a sweep: the next one retries)
            time.sleep(0.1)
        try:
            return self._recover(at_start)
        finally:
            self.switch_owners.give_back(RECOVERING)

    def _recover(self, at_start: bool) -> int:
        from services.telephony.recovery import salvage

        source = self.sink.source
        with self.database.read_session() as session:
            orphans = {call.external_id: call.started_at for call in ledger.calls_awaiting_audio(session, source)
                       if self._left_by_a_stopped_switch(call.external_id, at_start=at_start)}
        if not orphans:
            return 0
        salvaged = salvage(self.store, orphans)
        ended = 0
        with self.database.session() as session:
            for call in ledger.calls_awaiting_audio(session, source):
                if call.external_id not in orphans:
                    continue  # another process's live call
                kept = salvaged.get(call.external_id)
                if call.state in ledger.IN_PROGRESS:
                    last_alive = kept.stopped_at if kept else (call.answered_at or call.started_at)
                    ledger.end_interrupted(session, call, last_alive)
                    ended += 1
                if kept is not None:
                    ledger.attach_audio(session, call, file_path=kept.relpath, size_bytes=kept.size_bytes,
                                        duration_s=kept.duration_s)
                elif call.recording is not None and call.recording.state == "awaiting_audio":
                    call.recording.state = "missing"  # the crash came before any audio was written
        if ended:
            log.warning("ended %d call(s) the simulated switch left in progress when it stopped", ended)
        return ended

    def add_worker(self, worker) -> None:
        """A background worker with start() and stop() (outbox, scheduler)."""
        self._workers.append(worker)
        if self._started.is_set():
            worker.start()

    @property
    def agent_desk(self):
        """The agent operations (seed 004) on this system's database and switch, for the
        agent API and the console's web agent alike."""
        from services.core.agent_desk import AgentDesk
        control = None
        if self.switch is not None:
            from services.telephony.control import DriverCallControl
            control = DriverCallControl(self.switch, self.sink.source)
        return AgentDesk(self.database, control, default_region=self.settings.default_region,
                         answer_after_s=self.settings.agent_answer_after_s, token_ttl=self.settings.agent_token_ttl,
                         throttle=self.throttle, audit=self.audit)

    @property
    def ready(self) -> bool:
        return self._started.is_set()

    def edges(self) -> list[Route]:
        """Every mounted route. The simulated switch's API only with the simulated switch."""
        allowed = self.settings.metrics_allowed_networks
        routes = [health_route(self.health), self.metrics.route(lambda address: address_allowed(allowed, address)),
                  *cti_edge.routes(self)]
        if self.switch is not None:
            routes += sim_edge.routes(self)
        routes += recording_edge.routes(self)
        routes += calldata_edge.routes(self)
        routes += console_edge.routes(self)
        routes += agent_edge.routes(self)
        routes += callback_edge.routes(self)
        routes += info_edge.routes(self)
        routes.append(openapi_route(list(routes)))
        return routes

    def wsgi_app(self):
        return build_wsgi(self.edges(), self.settings, observe=self.metrics.observe)

    def _gauges(self):
        with self.database.read_session() as session:
            counts = stats.counts(session)
        yield "callsuite_outbox_entries", "Outbox entries by state", "state", counts["outbox"]
        yield "callsuite_callback_requests", "Callback requests by state", "state", counts["callbacks"]
        yield "callsuite_calls_in_progress", "Calls ringing or answered", "", {"": counts["calls"]["in_progress"]}
        if self.switch is not None:
            channels = self.switch.channels()
            free = sum(1 for channel in channels if channel.state == "idle")
            taken = self.playback_slots.taken() if self.playback_slots is not None else None
            if taken is not None:  # the pool every process shares
                free = max(0, len(channels) - taken)
            yield "callsuite_playback_channels_free", "Idle playback channels", "", {"": free}
        yield ("callsuite_password_verifications", "argon2 password verifications run by this process", "",
               {"": security.password_verifications.value})
        yield ("callsuite_event_subscribers", "Open callback event streams and waiting long polls (this process)", "",
               {"": len(self.events_server.feed)})

    def health(self) -> tuple[dict, bool]:
        try:
            self.database.ping()
            database = "ok"
        except Exception:
            database = "unavailable"
        ok = self.ready and database == "ok"
        body = {"status": "ok" if ok else "starting" if database == "ok" else "degraded",
                "database": database, "switch": self.settings.switch}
        return body, ok

    def close(self) -> None:
        for worker in reversed(self._workers):
            try:
                worker.stop()
            except Exception:
                log.exception("stopping %r", worker)
        if self.switch is not None:
            self.switch.close()
        for slots in (self.playback_slots, self.switch_owners):
            if slots is not None:
                slots.close()
        if self._listener is not None:
            self._listener.stop()
        self.database.dispose()


def create_server(system: System, *, host: str, port: int):
    """The waitress server for a started system (the CLI's serve and the tests' server)."""
    return create_http_server(system.wsgi_app(), system.settings, host=host, port=port)
