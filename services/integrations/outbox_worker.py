"""The durable outbox worker: delivers `OutboxEntry` rows written by the core (CONTRACTS §1).

All state lives in the database, so nothing is lost when a process stops, and several
server processes can share one database:

- An entry is due when it is `pending` and its `next_attempt_at` has passed.
- A worker claims a due entry with a conditional UPDATE (same id, still pending, same
  `next_attempt_at` it read) that moves `next_attempt_at` forward by a lease and counts
  the attempt. Only the worker whose UPDATE changed a row delivers; another process that
  read the same row finds `next_attempt_at` moved and skips it. A process that dies while
  delivering leaves the entry to be taken again once the lease has run out.
- It claims a few entries at a time (`batch_size`) with a lease that fits one delivery
  (the request timeout and a margin), and renews an entry's lease (the same conditional
  UPDATE) just before delivering it. So a process that dies holds at most a few entries,
  each for at most one lease, and the rest are delivered promptly by whoever is running.
- After the attempt the entry is `sent`, rescheduled with exponential backoff and jitter
  (capped), or `failed` — the dead letter — once `max_attempts` attempts have failed;
  `callsuite outbox retry` makes a dead letter pending again.
- Every attempt carries the entry's idempotency key (and the company's signature when it
  has a secret): services/integrations/delivery.py.

Delivery is at least once: a receiver may, rarely, see a notice twice (a crash between
delivering and recording it), never zero times while attempts remain.

Errors and logs name targets without secrets (no userinfo, no password-like parameters).
"""
from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Optional

import requests
from sqlalchemy import select, update

from storage.models import Company, OutboxEntry

from .crm import Attempt, deliver_web_service, get_target
from .delivery import DeliveryAuth, DeliveryError, safe_url

log = logging.getLogger(__name__)

Deliverer = Callable[[OutboxEntry, Attempt], None]
__all__ = ["OutboxWorker", "DeliveryError", "safe_url"]

BACKOFF_CAP_S = 300.0
LEASE_MARGIN_S = 5.0  # a lease covers one delivery's timeout and this: reading and recording it
_MAX_ERROR = 500


class OutboxWorker:
    """A background thread delivering due outbox entries; `start()` / `stop()`.

    `interval_s` is the polling interval and also the first retry delay (doubling, with
    jitter, up to five minutes); `lease_s` (default: the delivery timeout and a margin)
    must exceed the delivery timeout.
    """

    def __init__(self, database, *, interval_s: float = 1.0, max_attempts: int = 12,
                 batch_size: int = 4, lease_s: Optional[float] = None, timeout_s: float = 10.0,
                 backoff_cap_s: float = BACKOFF_CAP_S,
                 deliverers: Optional[Mapping[str, Deliverer]] = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        if interval_s <= 0 or max_attempts < 1 or batch_size < 1:
            raise ValueError("interval_s > 0, max_attempts >= 1 and batch_size >= 1 are required")
        if lease_s is None:
            lease_s = timeout_s + LEASE_MARGIN_S
        if lease_s <= timeout_s:
            raise ValueError("lease_s must be longer than timeout_s")
        self.database = database
        self.interval_s = float(interval_s)
        self.max_attempts = int(max_attempts)
        self.batch_size = int(batch_size)
        self.lease = timedelta(seconds=lease_s)
        self.timeout_s = float(timeout_s)
        self.backoff_cap_s = float(backoff_cap_s)
        self.clock = clock
        self._http = requests.Session()
        self.deliverers: dict[str, Deliverer] = {
            "bms_link": get_target,
            "crm_url": get_target,
            "crm_web_service": deliver_web_service,
        }
        self.deliverers.update(deliverers or {})
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stops polling; waits up to `timeout_s` for a delivery in flight. One cut short
        keeps its lease and is taken again after it (by this or another process)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("outbox worker still delivering at stop; the entry will be retried")
                return  # the daemon thread finishes its attempt on its own
        self._http.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                handled = self.run_once()
            except Exception:
                log.exception("outbox poll failed; retrying in %.1f s", self.interval_s)
                handled = 0
            if handled < self.batch_size:  # a full batch means more may be due at once
                self._stopping.wait(self.interval_s)

    # --- one poll ---------------------------------------------------------------------

    def run_once(self) -> int:
        """Claims and delivers one batch of due entries; returns how many it claimed."""
        claimed = self._claim_batch()
        for index, (entry_id, lease_until) in enumerate(claimed):
            if self._stopping.is_set():
                self._release(claimed[index:])
                break
            renewed = self._renew(entry_id, lease_until)
            if renewed is not None:  # else its lease ran out and another worker took it
                self._attempt(entry_id, renewed)
        return len(claimed)

    def _renew(self, entry_id: int, lease_until: datetime) -> Optional[datetime]:
        """A fresh lease for one delivery, just before it, while the claim is still ours."""
        renewed = self.clock() + self.lease
        with self.database.session() as session:
            result = session.execute(update(OutboxEntry)
                                     .where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending",
                                            OutboxEntry.next_attempt_at == lease_until)
                                     .values(next_attempt_at=renewed)
                                     .execution_options(synchronize_session=False))
        return renewed if result.rowcount == 1 else None

    def _release(self, claims: list[tuple[int, datetime]]) -> None:
        """Hands back claims not attempted (stopping): due at once, the attempt uncounted."""
        now = self.clock()
        with self.database.session() as session:
            for entry_id, lease_until in claims:
                session.execute(update(OutboxEntry)
                                .where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending",
                                       OutboxEntry.next_attempt_at == lease_until)
                                .values(next_attempt_at=now, attempts=OutboxEntry.attempts - 1)
                                .execution_options(synchronize_session=False))

    def _claim_batch(self) -> list[tuple[int, datetime]]:
        now = self.clock()
        lease_until = now + self.lease
        with self.database.session() as session:
            return [(entry_id, lease_until) for entry_id, seen_at in self._due(session, now)
                    if self._claim(session, entry_id, seen_at, lease_until)]

    def _due(self, session, now: datetime) -> list[tuple[int, datetime]]:
        return [tuple(row) for row in session.execute(
            select(OutboxEntry.id, OutboxEntry.next_attempt_at)
            .where(OutboxEntry.state == "pending", OutboxEntry.next_attempt_at <= now)
            .order_by(OutboxEntry.next_attempt_at, OutboxEntry.id).limit(self.batch_size))]

    @staticmethod
    def _claim(session, entry_id: int, seen_at: datetime, lease_until: datetime) -> bool:
        """True when this worker took the entry: nobody moved it since `seen_at` was read."""
        result = session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending",
                   OutboxEntry.next_attempt_at == seen_at)
            .values(next_attempt_at=lease_until, attempts=OutboxEntry.attempts + 1)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1

    def _attempt(self, entry_id: int, lease_until: datetime) -> None:
        with self.database.session() as session:
            entry = session.get(OutboxEntry, entry_id)
            if entry is None:
                return
            company = session.get(Company, entry.company_id) if entry.company_id is not None else None
            secret = company.hmac_secret if company is not None else None
            session.expunge(entry)  # deliver outside any transaction
        deliver = self.deliverers.get(entry.kind)
        try:
            if deliver is None:
                raise DeliveryError(f"no deliverer for outbox kind {entry.kind!r}")
            key = entry.idempotency_key or f"outbox-{entry.id}"
            deliver(entry, Attempt(self._http, self.timeout_s, DeliveryAuth(key, secret)))
        except Exception as exc:
            self._failed(entry, lease_until, _describe(exc))
        else:
            self._sent(entry)

    def _sent(self, entry: OutboxEntry) -> None:
        with self.database.session() as session:
            session.execute(update(OutboxEntry)
                            .where(OutboxEntry.id == entry.id, OutboxEntry.state == "pending")
                            .values(state="sent", sent_at=self.clock(), last_error=None)
                            .execution_options(synchronize_session=False))
        log.info("outbox #%d (%s) sent to %s after %d attempt(s)", entry.id, entry.kind,
                 safe_url(entry.target), entry.attempts)

    def _failed(self, entry: OutboxEntry, lease_until: datetime, error: str) -> None:
        give_up = entry.attempts >= self.max_attempts
        values: dict = {"last_error": error[:_MAX_ERROR]}
        if give_up:
            values["state"] = "failed"
        else:
            values["next_attempt_at"] = self.clock() + timedelta(seconds=self.backoff_s(entry.attempts))
        with self.database.session() as session:
            # Only while the claim is still ours: after a lost lease another worker owns it.
            session.execute(update(OutboxEntry)
                            .where(OutboxEntry.id == entry.id, OutboxEntry.state == "pending",
                                   OutboxEntry.next_attempt_at == lease_until)
                            .values(**values).execution_options(synchronize_session=False))
        if give_up:
            log.error("outbox #%d (%s) is a dead letter (failed) after %d attempts: %s", entry.id, entry.kind,
                      entry.attempts, error)
        else:
            log.warning("outbox #%d (%s) attempt %d/%d failed: %s", entry.id, entry.kind,
                        entry.attempts, self.max_attempts, error)

    def backoff_s(self, attempts: int) -> float:
        """Delay after the `attempts`-th failure: interval × 2^(attempts-1), capped, with
        jitter (50–100 %) so that many entries failing together do not retry together."""
        ceiling = min(self.backoff_cap_s, self.interval_s * (2 ** min(max(attempts - 1, 0), 30)))
        return ceiling * random.uniform(0.5, 1.0)


def _describe(exc: Exception) -> str:
    if isinstance(exc, DeliveryError):
        return str(exc)
    # Anything else may carry a URL or a secret in its message: keep the class name only.
    return f"{type(exc).__name__} while delivering"
