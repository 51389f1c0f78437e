"""The callback worker: executes due Buzzeasy callback requests through the switch driver.

The state machine and every claim live in services/core/callback_engine.py (in the
database); this thread only polls, dials and waits. One attempt:

1. CallingUser is recorded with the claim, then the user's number is dialled (a recorded
   outbound call in the ledger, linked to the request).
2. Answered by a person: UserConnected. Busy, no answer within the ring timeout,
   voicemail or unreachable: CallingUserFailed, then Rescheduled (after the retry delay)
   or CallFailed once the attempts are used up.
3. CallingAgent: the queue's longest-waiting ready, free agent (agent API session) is
   claimed and its extension rung. With none ready: the extension of one of the queue's
   agents who are not signed in to the agent API (desk phones; the request id picks one,
   round robin), else the queue's own number `queue-<id>`; a signed-in agent who is not
   ready is never rung. On the simulated switch the extension answers after
   `callback_agent_answer_s`: AgentConnected.
4. The two legs are bridged as soon as the agent answers (a leg that has ended by then
   fails the attempt, the user reached), then CallAccepted (the agent has taken the
   call). The user's leg now carries the agent's extension, so AddLink from the agent's
   workstation finds it, and is the claimed agent's call: in its getcalls, the agent on
   it, then wrapping.
5. When either side hangs up the other is hung up too: CallSucceeded.

The user leg rings at most `ring_timeout_s`; an agent leg that does not answer in that
time fails the attempt as well (the user is hung up, the request rescheduled).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import select

from services.core import agent_errors, agents, ledger
from services.core import callback_engine as engine
from services.core.callbacks import AGENT_CONNECTED, CALL_ACCEPTED, CALLING_AGENT, USER_CONNECTED
from services.telephony.driver import InvalidCallState
from storage.models import User

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often a running attempt looks at its calls


class _Lost(Exception):
    """The attempt is no longer ours (lease lost) or the worker is stopping."""


class CallbackWorker:
    def __init__(self, system, *, policy: engine.Policy, interval_s: float = 0.5, concurrency: int = 8,
                 ring_timeout_s: float = 30.0, answer_after_s: float = 2.0, agent_answer_s: float = 1.0,
                 talk_s: float = 10.0, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        if interval_s <= 0 or concurrency < 1:
            raise ValueError("interval_s > 0 and concurrency >= 1 are required")
        self.system = system
        self.policy = policy
        self.interval_s = float(interval_s)
        self.concurrency = int(concurrency)
        self.ring_timeout_s = float(ring_timeout_s)
        self.answer_after_s = float(answer_after_s)
        self.agent_answer_s = float(agent_answer_s)
        self.talk_s = float(talk_s)
        self.clock = clock
        self.worker_id = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._pool: Optional[ThreadPoolExecutor] = None
        self._running: set[int] = set()  # the requests whose attempt this worker's pool runs
        self._lock = threading.Lock()
        self._local = threading.local()  # the claim of the attempt this pool thread runs

    @property
    def database(self):
        return self.system.database

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="callback-attempt")
        self._thread = threading.Thread(target=self._run, name="callback-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stops claiming; attempts in flight hang up and are rescheduled."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("callback poll failed; retrying in %.1f s", self.interval_s)
            self._stopping.wait(self.interval_s)

    # --- one poll ---------------------------------------------------------------------

    def run_once(self) -> int:
        """Closes interrupted attempts, claims due requests up to the free concurrency and
        starts them; returns how many it started."""
        if self.system.switch is None:
            return 0
        now = self.clock()
        with self._lock:
            running = frozenset(self._running)
        with self.database.session() as session:
            for request_id, seen in engine.interrupted(session, now, 20, running):
                outcome = engine.close_interrupted(session, request_id, seen, now, self.policy)
                if outcome:
                    log.warning("callback request #%d: an interrupted attempt was closed (%s)", request_id, outcome)
        with self._lock:
            free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        started = 0
        with self.database.session() as session:
            claims = [c for c in (engine.claim(session, request_id, seen, self.worker_id, now, self.policy)
                                  for request_id, seen in engine.due(session, now, self.policy, free)) if c]
        for claim in claims:
            with self._lock:
                self._running.add(claim.request_id)
            self._pool.submit(self._attempt, claim)
            started += 1
        return started

    # --- one attempt ------------------------------------------------------------------

    def _attempt(self, claim: engine.Claim) -> None:
        self._local.claim = claim
        switch = self.system.switch
        user_call = agent_call = agent = None
        user_reached = False
        try:
            user_call = switch.place_call(extension=None, number=claim.phone, direction="outbound", ani=None,
                                          did=claim.did, answer_after_s=self.answer_after_s, duration_s=None,
                                          record=True)
            self._link(claim, user_call)
            self._step(claim, "", user_call_id=user_call)
            if not self._wait_answer(switch, user_call, person_only=True):
                self._hangup(switch, user_call)
                self._fail(claim, user_reached=False)
                return
            user_reached = True
            self._step(claim, USER_CONNECTED)
            agent = self._claim_agent(claim)
            extension = agent.extension if agent else self._desk_extension(claim)
            self._step(claim, CALLING_AGENT)
            agent_call = switch.place_call(extension=None, number=extension, direction="outbound", ani=claim.phone,
                                           did=None, answer_after_s=self.agent_answer_s, duration_s=self.talk_s,
                                           record=False)
            self._link(claim, agent_call)
            self._step(claim, "", agent_call_id=agent_call)
            # Bridged the moment the agent answers, before anything is written: the agent (or
            # the user) may hang up while a busy process records AgentConnected.
            if not (self._wait_answer(switch, agent_call, person_only=False)
                    and self._bridged(switch, user_call, agent_call)):
                self._hangup(switch, agent_call)
                self._hangup(switch, user_call)
                self._fail(claim, user_reached=True)
                return
            self._step(claim, AGENT_CONNECTED)
            self._link(claim, user_call, extension=extension, agent=agent)
            agent = None  # assigned: the agent is on the call now, the claim is over
            self._step(claim, CALL_ACCEPTED)
            self._wait_either_ends(switch, user_call, agent_call)
            self._hangup(switch, user_call)
            self._hangup(switch, agent_call)
            with self.database.session() as session:
                engine.succeeded(session, claim, self.worker_id, self.clock())
        except _Lost:
            for call in (agent_call, user_call):
                self._hangup(switch, call)
            if self._stopping.is_set():
                self._fail(claim, user_reached=user_reached)
        except Exception:
            log.exception("callback request #%d attempt %d failed", claim.request_id, claim.attempt)
            for call in (agent_call, user_call):
                self._hangup(switch, call)
            self._fail(claim, user_reached=user_reached)
        finally:
            if agent is not None:
                self._release_agent(agent)
            with self._lock:
                self._running.discard(claim.request_id)

    def _step(self, claim: engine.Claim, status: str, **call_ids) -> None:
        with self.database.session() as session:
            if not engine.step(session, claim, self.worker_id, status, self.clock(), self.policy, **call_ids):
                raise _Lost()

    def _fail(self, claim: engine.Claim, *, user_reached: bool) -> None:
        try:
            with self.database.session() as session:
                engine.failed(session, claim, self.worker_id, self.clock(), self.policy, user_reached=user_reached)
        except Exception:
            log.exception("callback request #%d: cannot record the failed attempt; its lease will "
                          "run out and it is closed then", claim.request_id)

    def _link(self, claim: engine.Claim, switch_call_id: str, extension: Optional[str] = None,
              agent: Optional[agents.QueueAgentClaim] = None) -> None:
        """The calls of a callback are ordinary ledger calls; these columns tie them to it.
        With a claimed agent, the user's leg becomes that agent's call (getcalls, on call,
        then wrapping) and the claim ends, in one transaction."""
        with self.database.session() as session:
            call = ledger.find_call(session, self.system.sink.source, switch_call_id)
            if call is None:
                return
            call.callback_request_id = claim.request_id
            call.company_id = claim.company_id
            call.queue_id = claim.queue_id
            if extension is not None:
                call.extension = extension
                call.agent_id = session.scalar(select(User.id).where(User.extension == extension).limit(1))
                if agent is None and call.agent_id is not None and call.disposed_at is None:
                    # A desk phone took it, not the agent API: no disposition is owed through the
                    # API, so the agent's later login is not refused as "wrapping".
                    call.disposed_at = self.clock()
            if agent is not None:
                try:
                    agents.assign_call(session, call, agent.user_id)
                except agent_errors.NotLoggedIn:
                    pass  # logged out while the phone rang: the call stays on the extension only
                agents.release_dial(session, agent.user_id)

    def _claim_agent(self, claim: engine.Claim) -> Optional[agents.QueueAgentClaim]:
        """The queue's longest-waiting ready agent, claimed (committed) before it is rung."""
        with self.database.session() as session:
            return agents.claim_ready_agent(session, claim.queue_id, self.clock())

    def _release_agent(self, agent: agents.QueueAgentClaim) -> None:
        try:
            with self.database.session() as session:
                agents.release_dial(session, agent.user_id)
        except Exception:
            log.exception("cannot release agent %d; its claim runs out by itself", agent.user_id)

    def _desk_extension(self, claim: engine.Claim) -> str:
        """No agent of the queue is ready: one of its agents not signed in to the agent API
        (round robin by request), else the queue's own number."""
        with self.database.read_session() as session:
            extensions = agents.desk_phone_extensions(session, claim.queue_id)
        if not extensions:
            return f"queue-{claim.queue_id}"
        return extensions[claim.request_id % len(extensions)]

    def _watch(self, claim_check: Callable[[], bool], timeout_s: Optional[float]) -> bool:
        """Poll `claim_check` until true (True) or the timeout (False), renewing nothing."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self._stopping.is_set():
                raise _Lost()
            if claim_check():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)

    def _wait_answer(self, switch, call_id: str, *, person_only: bool) -> bool:
        """True when the call was answered (by a person, when `person_only`)."""
        state: dict = {}

        def settled() -> bool:
            snapshot = switch.call(call_id)
            if snapshot is None or snapshot.state != "ringing":
                state["snapshot"] = snapshot
                return True
            return False

        if not self._renewing(settled, self.ring_timeout_s):
            return False
        snapshot = state["snapshot"]
        if snapshot is None or snapshot.state != "answered":
            return False
        return not (person_only and snapshot.answered_by == "voicemail")

    def _wait_either_ends(self, switch, first: str, second: str) -> None:
        def ended() -> bool:
            return any((s := switch.call(c)) is None or s.state not in ("ringing", "answered") for c in (first, second))
        self._renewing(ended, None)

    def _renewing(self, check: Callable[[], bool], timeout_s: Optional[float]) -> bool:
        """Wait for `check`, renewing the lease every third of it; _Lost if it is lost."""
        claim = getattr(self._local, "claim", None)
        renew_every = self.policy.lease.total_seconds() / 3
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            step_timeout = renew_every if deadline is None else min(renew_every, max(0.0, deadline - time.monotonic()))
            if self._watch(check, step_timeout):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if claim is not None:
                with self.database.session() as session:
                    if not engine.renew(session, claim, self.worker_id, self.clock(), self.policy):
                        raise _Lost()

    @staticmethod
    def _bridged(switch, user_call: str, agent_call: str) -> bool:
        """False when a leg ended between the agent's answer and the bridge."""
        try:
            switch.bridge(user_call, agent_call)
        except InvalidCallState:
            return False
        return True

    @staticmethod
    def _hangup(switch, call_id: Optional[str]) -> None:
        if call_id is None:
            return
        try:
            snapshot = switch.call(call_id)
            if snapshot is not None and snapshot.state in ("ringing", "answered"):
                switch.hangup(call_id)
        except Exception:
            pass  # it ended on its own meanwhile


def callback_worker(system) -> CallbackWorker:
    """The worker as the settings configure it."""
    from datetime import timedelta
    s = system.settings
    policy = engine.Policy(max_attempts=s.callback_max_attempts, retry_delay=timedelta(seconds=s.callback_retry_delay_s),
                           lease=timedelta(seconds=s.callback_lease_s), asap_ewt_minutes=s.callback_asap_ewt_minutes)
    return CallbackWorker(system, policy=policy, interval_s=s.callback_interval_s, concurrency=s.callback_concurrency,
                          ring_timeout_s=s.callback_ring_timeout_s, answer_after_s=s.callback_answer_after_s,
                          agent_answer_s=s.callback_agent_answer_s, talk_s=s.callback_talk_s)
