"""The callback engine's state machine, kept in the database (pure domain: sessions in,
decisions out; the worker in services/integrations/callback_worker.py drives the switch).

A request is `open` until it is due, `calling` while an attempt runs, then `succeeded` or
`failed` (or `open` again, rescheduled). All state lives in its row, so nothing is lost
when a process dies and several processes can share the database:

- Due: `open`, `next_attempt_at` passed, and, for an ASAP request, its queue open now and
  able to take it: a ready, free agent of the queue (services.core.agents) or its EWT at or
  below the configured lead time (scheduled requests are due at their slot's start, which
  is in opening hours by construction).
- Claim: a conditional UPDATE (`state='open'` and the `next_attempt_at` the worker read)
  moves it to `calling`, counts the attempt (`attempts + 1`) and takes a lease
  (`claimed_by`, `claimed_until`), together with its CallingUser status, in one
  transaction, before anything is dialled. Only the worker whose UPDATE changed the row
  goes on; the lease is renewed while the attempt runs.
- Interrupted: a `calling` request whose lease ran out belongs to a worker that died (or
  lost its lease; a worker never counts the attempts it is still running among them).
  Another worker takes it with a conditional UPDATE on that lease and closes the attempt
  as failed (CallingUserFailed when the user had not been connected), then reschedules it
  or fails it, like any failed attempt. The interrupted attempt is never dialled again:
  each attempt number dials the user at most once, and the next attempt waits the
  configured retry delay like any other.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Collection, Optional

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from storage.models import CallbackEvent, CallbackRequest, ClientCode, Company, ServiceQueue

from . import agents, callbacks
from .callbacks import CALL_FAILED, CALL_SUCCEEDED, CALLING_USER, CALLING_USER_FAILED, RESCHEDULED, USER_CONNECTED
from .calldetails import did_for_code
from .slots import QueueCalendar


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 3  # user legs tried before CallFailed
    retry_delay: timedelta = timedelta(minutes=5)
    lease: timedelta = timedelta(seconds=30)
    asap_ewt_minutes: int = 5  # an ASAP request is executed once its queue's EWT is at most this


@dataclass(frozen=True)
class Claim:
    request_id: int
    attempt: int
    phone: str
    queue_id: int
    company_id: int
    did: Optional[str] = None  # the company's first client code: its Callbutton report shows the calls


def closed_queues(session: Session, now: datetime) -> list[int]:
    """Queues out of hours now: their ASAP requests (and retries) wait for the opening."""
    return [queue.id for queue, company in session.execute(
        select(ServiceQueue, Company).join(Company, Company.id == ServiceQueue.company_id))
        if not QueueCalendar.of(queue, company).is_open(now)]


def due(session: Session, now: datetime, policy: Policy, limit: int) -> list[tuple[int, datetime]]:
    closed = closed_queues(session, now)
    staffed = agents.queues_with_ready_agents(session, now)
    rows = session.execute(
        select(CallbackRequest.id, CallbackRequest.next_attempt_at)
        .join(ServiceQueue, ServiceQueue.id == CallbackRequest.queue_id)
        .where(CallbackRequest.state == "open", CallbackRequest.next_attempt_at <= now,
               or_(CallbackRequest.asap.is_(False),
                   and_(or_(ServiceQueue.ewt_minutes <= policy.asap_ewt_minutes,
                            CallbackRequest.queue_id.in_(staffed)),
                        CallbackRequest.queue_id.not_in(closed))))
        .order_by(CallbackRequest.next_attempt_at, CallbackRequest.id).limit(limit))
    return [tuple(row) for row in rows]


def claim(session: Session, request_id: int, seen_at: datetime, worker: str, now: datetime,
          policy: Policy) -> Optional[Claim]:
    """Take a due request for one attempt and record the attempt (with CallingUser) before
    anything is dialled; None when another worker took it first."""
    result = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == request_id, CallbackRequest.state == "open",
               CallbackRequest.next_attempt_at == seen_at)
        .values(state="calling", attempts=CallbackRequest.attempts + 1, claimed_by=worker,
                claimed_until=now + policy.lease, user_call_id=None, agent_call_id=None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    request = session.get(CallbackRequest, request_id, populate_existing=True)
    callbacks.record_status(session, request, CALLING_USER, now)
    code = session.scalar(select(ClientCode.code).where(ClientCode.company_id == request.company_id)
                          .order_by(ClientCode.code).limit(1))
    return Claim(request.id, request.attempts, request.phone_e164, request.queue_id, request.company_id,
                 did_for_code(code) if code else None)


def renew(session: Session, claim: Claim, worker: str, now: datetime, policy: Policy) -> bool:
    """Extend the lease while the attempt runs; False when it is no longer ours."""
    result = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == claim.request_id, CallbackRequest.state == "calling",
               CallbackRequest.claimed_by == worker, CallbackRequest.attempts == claim.attempt)
        .values(claimed_until=now + policy.lease).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _owned(session: Session, claim: Claim, worker: str) -> Optional[CallbackRequest]:
    request = session.get(CallbackRequest, claim.request_id, populate_existing=True, with_for_update=True)
    if request is None or request.state != "calling" or request.claimed_by != worker \
            or request.attempts != claim.attempt:
        return None
    return request


def step(session: Session, claim: Claim, worker: str, status: str, now: datetime, policy: Policy, *,
         user_call_id: Optional[str] = None, agent_call_id: Optional[str] = None) -> bool:
    """Record a status of the running attempt (UserConnected, CallingAgent, AgentConnected,
    CallAccepted), renewing the lease; False when the attempt is no longer ours."""
    request = _owned(session, claim, worker)
    if request is None:
        return False
    if user_call_id is not None:
        request.user_call_id = user_call_id
    if agent_call_id is not None:
        request.agent_call_id = agent_call_id
    request.claimed_until = now + policy.lease
    if status:
        callbacks.record_status(session, request, status, now)
    return True


def succeeded(session: Session, claim: Claim, worker: str, now: datetime) -> bool:
    request = _owned(session, claim, worker)
    if request is None:
        return False
    request.state = "succeeded"
    request.claimed_until = None  # claimed_by stays: which worker ran the last attempt
    request.next_attempt_at = None
    callbacks.record_status(session, request, CALL_SUCCEEDED, now)
    return True


def _close_failed(session: Session, request: CallbackRequest, now: datetime, policy: Policy,
                  user_reached: bool) -> str:
    if not user_reached:
        callbacks.record_status(session, request, CALLING_USER_FAILED, now)
    request.retries = request.attempts
    request.claimed_until = None  # claimed_by stays: which worker ran the last attempt
    if request.attempts < policy.max_attempts:
        request.state = "open"
        request.next_attempt_at = now + policy.retry_delay
        callbacks.record_status(session, request, RESCHEDULED, now)
        return RESCHEDULED
    request.state = "failed"
    request.next_attempt_at = None
    callbacks.record_status(session, request, CALL_FAILED, now)
    return CALL_FAILED


def failed(session: Session, claim: Claim, worker: str, now: datetime, policy: Policy, *,
           user_reached: bool) -> Optional[str]:
    """The attempt failed (the user could not be reached, or no agent took the call):
    Rescheduled while attempts remain, else CallFailed. None when it is no longer ours."""
    request = _owned(session, claim, worker)
    if request is None:
        return None
    return _close_failed(session, request, now, policy, user_reached)


def interrupted(session: Session, now: datetime, limit: int,
                running: Collection[int] = ()) -> list[tuple[int, datetime]]:
    """`calling` requests whose lease ran out: their worker died mid-attempt. `running`: the
    requests the asking worker is still running itself; a late renewal (a busy process) is
    not a death, and closing them would end calls that are going on."""
    rows = session.execute(
        select(CallbackRequest.id, CallbackRequest.claimed_until)
        .where(CallbackRequest.state == "calling", CallbackRequest.claimed_until < now,
               *([CallbackRequest.id.not_in(running)] if running else []))
        .order_by(CallbackRequest.claimed_until).limit(limit))
    return [tuple(row) for row in rows]


def close_interrupted(session: Session, request_id: int, seen_until: datetime, now: datetime,
                      policy: Policy) -> Optional[str]:
    """Close an attempt whose worker died, as failed; None when another worker did first."""
    result = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == request_id, CallbackRequest.state == "calling",
               CallbackRequest.claimed_until == seen_until)
        .values(claimed_until=now + policy.lease).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    request = session.get(CallbackRequest, request_id, populate_existing=True)
    reached = session.scalar(select(CallbackEvent.id).where(and_(
        CallbackEvent.request_id == request.id, CallbackEvent.attempt == request.attempts,
        CallbackEvent.status == USER_CONNECTED)).limit(1)) is not None
    return _close_failed(session, request, now, policy, reached)


