"""Agent remote control (seed 004): the agent's session and what an agent may do with its calls.

An agent is logged out, logged in to a campaign, or ready (stored in `agent_sessions`);
on top of that it is *on a call* while one of its calls is in progress and *wrapping*
while one of its ended calls waits for a disposition. Those two follow from the calls
themselves, so a customer hanging up moves the agent to wrapping with nobody writing
the session. Every refused transition is its own error with its own response code and
changes nothing.

Calls are ordinary ledger calls placed and controlled through a `CallControl` (agent_desk.py: the switch
driver behind an adapter that speaks these errors); the ledger learns what happened from
the switch's events, as for any other call. Switch actions run outside any database
transaction: the switch's event sink writes the ledger in its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple, Optional, Sequence

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    ID_MAX,
    AgentSession,
    AuthToken,
    Call,
    Campaign,
    Company,
    Lead,
    LeadPhone,
    QueueAgent,
    Recording,
    ResultCode,
    ServiceQueue,
    User,
)
from storage.statements import Prepared, detached
from storage.units import UnitOfWork

from . import ledger
from .agent_errors import (
    BadInput,
    CallAlreadyHeld,
    CallDisposed,
    CallEnded,
    CallNotConnected,
    CallNotHeld,
    CampaignInactive,
    NoSuchThing,
    NotBridgeable,
    NotControllable,
    NotLoggedIn,
    NotRecorded,
    NotYourAgent,
    NotYourCall,
    OnCall,
    SwitchRefused,
    TokenInvalid,
    TokenMissing,
    UnknownResultCode,
    Wrapping,
)
from .errors import InvalidInput
from .phone import to_e164
from .security import hash_token, new_token

STATES = ("logged_out", "logged_in", "ready", "on_call", "wrapping")
TOKEN_TTL = timedelta(hours=12)
DIAL_CLAIM_TTL = timedelta(seconds=60)  # a dial that crashed half-way stops blocking after this
MAX_NOTES = 4000
MAX_LEAD_PHONE = 32

# The integers of the seed's Call entity (documented in README.md, "Agent remote control").
CALL_STATE = {"ringing": 1, "connected": 2, "held": 3, "ended": 4}
CALL_STATUS = {"active": 1, "wrapping": 2, "disposed": 3}
RECORDING_STATE = {"not_recorded": 0, "recording": 1, "paused": 2, "stopped": 3}


# --- tokens -----------------------------------------------------------------------------

def issue_token(session: Session, user: User, now: Optional[datetime] = None, ttl: timedelta = TOKEN_TTL
                ) -> tuple[str, datetime]:
    """A fresh random token for a user whose password was checked; only its hash is kept."""
    now = now or _now()
    token = new_token()
    session.execute(AuthToken.__table__.delete().where(AuthToken.user_id == user.id, AuthToken.expires_at < now))
    session.add(AuthToken(token_hash=hash_token(token), user_id=user.id, issued_at=now, expires_at=now + ttl))
    return token, now + ttl


# Every agent API request signs in by its token: one prepared SELECT of the token's user.
_TOKENS, _USERS = AuthToken.__table__, User.__table__
_USER_OF_TOKEN = Prepared(select(_TOKENS.c.expires_at, *_USERS.c)
                          .select_from(_TOKENS.join(_USERS, _USERS.c.id == _TOKENS.c.user_id))
                          .where(_TOKENS.c.token_hash == bindparam("token_hash")))


def user_for_token(session: UnitOfWork, token: Optional[str], now: Optional[datetime] = None) -> User:
    """The token's user: a User of no session (its columns only)."""
    if not token:
        raise TokenMissing("no TokenKey cookie: get a token from /webservices/services/token")
    if len(token) > 200:
        raise TokenInvalid("unknown or expired token")
    row = _USER_OF_TOKEN.first(session, {"token_hash": hash_token(token)})
    if row is None or row[0] <= (now or _now()):
        raise TokenInvalid("unknown or expired token")
    return detached(User, _USERS.c, row[1:])


def authorize(session: Session, actor: User, user_id: int) -> User:
    """The agent `user_id` a token may act for: its own user, or anyone for a supervisor."""
    _may_act_for(actor, user_id)
    user = actor if actor.id == user_id else session.get(User, user_id)
    if user is None:
        raise NoSuchThing(f"no user {user_id}")
    return user


def _may_act_for(actor: User, user_id: int) -> None:
    if actor.id != user_id and not actor.supervisor:
        raise NotYourAgent(f"this token acts for user {actor.id} only, not {user_id}")


_USER_EXISTS = Prepared(select(_USERS.c.id).where(_USERS.c.id == bindparam("id")))


def _authorized_id(unit: UnitOfWork, actor: User, user_id: int) -> int:
    """`authorize`'s rule with statements only: the id of the agent the actor may act for."""
    _may_act_for(actor, user_id)
    if actor.id != user_id and _USER_EXISTS.first(unit, {"id": user_id}) is None:
        raise NoSuchThing(f"no user {user_id}")
    return user_id


# --- views (plain values for the edges) --------------------------------------------------

@dataclass(frozen=True)
class CallView:
    call_id: int
    started_at: datetime
    call_state: int
    call_status: int
    customer_name: str
    customer_name2: str
    phone_number: str
    recording_state: int
    # Beyond the seed's Call, for the web agent and the tests:
    state_name: str
    status_name: str
    recording_name: str
    campaign_id: Optional[int]
    lead_id: Optional[int]
    result_code: Optional[str]


@dataclass(frozen=True)
class AgentView:
    user_id: int
    full_name: str
    state: str
    campaign_id: Optional[int]
    campaign_name: Optional[str]
    since: datetime


class CallFacts(NamedTuple):
    """What a CallView is made of: the call's columns, its recording's state, its lead's name."""
    id: int
    started_at: datetime
    state: str
    held: bool
    disposed_at: Optional[datetime]
    direction: str
    target: Optional[str]
    ani: Optional[str]
    campaign_id: Optional[int]
    lead_id: Optional[int]
    result_code: Optional[str]
    recording_state: Optional[str]  # None: no recording row
    first_name: Optional[str]
    last_name: Optional[str]


def call_view(session: Session, call: Call) -> CallView:
    recording = call.recording
    lead = session.get(Lead, call.lead_id) if call.lead_id else None
    return _view(CallFacts(call.id, call.started_at, call.state, call.held, call.disposed_at, call.direction,
                           call.target, call.ani, call.campaign_id, call.lead_id, call.result_code,
                           recording.state if recording is not None else None,
                           lead.first_name if lead else None, lead.last_name if lead else None))


def _view(call: CallFacts) -> CallView:
    if call.state == "ended":
        state = "ended"
    elif call.state == "ringing":
        state = "ringing"
    else:
        state = "held" if call.held else "connected"
    status = "disposed" if call.disposed_at else ("wrapping" if call.state == "ended" else "active")
    if call.recording_state is None or call.recording_state == "none":
        rec = "not_recorded"
    elif call.recording_state == "paused":
        rec = "paused"
    elif call.recording_state == "recording" and call.state != "ended":
        rec = "recording"
    else:
        rec = "stopped"
    name = " ".join(part for part in (call.first_name, call.last_name) if part)
    phone = (call.target if call.direction == "outbound" else call.ani) or ""
    return CallView(call_id=call.id, started_at=call.started_at, call_state=CALL_STATE[state],
                    call_status=CALL_STATUS[status], customer_name=name, customer_name2="", phone_number=phone,
                    recording_state=RECORDING_STATE[rec], state_name=state, status_name=status, recording_name=rec,
                    campaign_id=call.campaign_id, lead_id=call.lead_id, result_code=call.result_code)


def _agent_row(session: Session, user_id: int) -> AgentSession:
    row = session.get(AgentSession, user_id)
    if row is None:
        row = AgentSession(user_id=user_id, state="logged_out", since=_now())
        session.add(row)
        session.flush()
    return row


# An agent's open calls: not yet dispositioned (in progress, or waiting in wrap-up).
_OPEN_OF_AGENT = (Call.agent_id == bindparam("user_id"), Call.disposed_at.is_(None))
_OPEN_CALLS = (select(Call).where(*_OPEN_OF_AGENT)
               .order_by(Call.started_at, Call.id))  # built once: every agent state reads it


def _open_calls(session: Session, user_id: int) -> list[Call]:
    """The agent's calls not yet dispositioned: in progress or waiting in wrap-up."""
    return list(session.scalars(_OPEN_CALLS, {"user_id": user_id}))


def effective_state(session: Session, row: AgentSession) -> str:
    calls = _open_calls(session, row.user_id)
    if any(c.state in ledger.IN_PROGRESS for c in calls):
        return "on_call"
    if calls:
        return "wrapping"
    return row.state


def agent_view(session: Session, user: User) -> AgentView:
    row = _agent_row(session, user.id)
    campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
    return AgentView(user_id=user.id, full_name=user.full_name, state=effective_state(session, row),
                     campaign_id=row.campaign_id, campaign_name=campaign.name if campaign else None, since=row.since)


# --- the session ------------------------------------------------------------------------

def login(session: Session, actor: User, user_id: int, campaign_id: Optional[int]) -> AgentView:
    user = authorize(session, actor, user_id)
    if campaign_id is None:
        raise BadInput("campaign is required: login/user/{UserID}?campaign={CampaignID}")
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NoSuchThing(f"no campaign {campaign_id}")
    if not campaign.active:
        raise CampaignInactive(f"campaign {campaign_id} is not active")
    row = _agent_row(session, user.id)
    _refuse_busy(session, row, "log in to another campaign")
    if row.state == "logged_out" or row.campaign_id != campaign_id:
        row.state, row.campaign_id, row.since = "logged_in", campaign_id, _now()
    return agent_view(session, user)


def logout(session: Session, actor: User, user_id: int) -> AgentView:
    user = authorize(session, actor, user_id)
    row = _agent_row(session, user.id)
    _refuse_busy(session, row, "log out")
    if row.state != "logged_out":
        row.state, row.campaign_id, row.since = "logged_out", None, _now()
    return agent_view(session, user)


def go_ready(session: Session, actor: User, user_id: int) -> AgentView:
    user = authorize(session, actor, user_id)
    row = _agent_row(session, user.id)
    if row.state == "logged_out":
        raise NotLoggedIn("log in to a campaign first")
    _refuse_busy(session, row, "go ready")
    if row.state != "ready":
        row.state, row.since = "ready", _now()
    return agent_view(session, user)


def _refuse_busy(session: Session, row: AgentSession, doing: str) -> None:
    state = effective_state(session, row)
    if state == "on_call":
        raise OnCall(f"the agent is on a call: hang up before trying to {doing}")
    if state == "wrapping":
        raise Wrapping(f"a call waits for its disposition: dispose it before trying to {doing}")


_CALLS, _RECORDINGS, _LEADS = Call.__table__, Recording.__table__, Lead.__table__
# getcalls runs on every poll of every agent's desk: the open calls with their recordings'
# states and leads' names in one prepared SELECT (call_view's facts).
_OPEN_CALL_FACTS = Prepared(
    select(_CALLS.c.id, _CALLS.c.started_at, _CALLS.c.state, _CALLS.c.held, _CALLS.c.disposed_at, _CALLS.c.direction,
           _CALLS.c.target, _CALLS.c.ani, _CALLS.c.campaign_id, _CALLS.c.lead_id, _CALLS.c.result_code,
           _RECORDINGS.c.state, _LEADS.c.first_name, _LEADS.c.last_name)
    .select_from(_CALLS.outerjoin(_RECORDINGS, _RECORDINGS.c.call_id == _CALLS.c.id)
                 .outerjoin(_LEADS, _LEADS.c.id == _CALLS.c.lead_id))
    .where(*_OPEN_OF_AGENT).order_by(_CALLS.c.started_at, _CALLS.c.id))


def get_calls(unit: UnitOfWork, actor: User, user_id: int) -> list[CallView]:
    """The agent's calls not yet dispositioned (as `_open_calls`), as views."""
    agent_id = _authorized_id(unit, actor, user_id)
    return [_view(CallFacts(*row)) for row in _OPEN_CALL_FACTS.all(unit, {"user_id": agent_id})]


def ready_agents(session: Session, queue_id: int, now: Optional[datetime] = None) -> list[int]:
    """The agents of an ACD (service) queue who are ready and free (no call, none being
    placed for them), longest-waiting first: where a call of that queue (a callback the
    engine places) goes."""
    now = now or _now()
    rows = session.scalars(select(AgentSession).join(QueueAgent, QueueAgent.user_id == AgentSession.user_id)
                           .where(QueueAgent.queue_id == queue_id, AgentSession.state == "ready",
                                  or_(AgentSession.dialing_since.is_(None),
                                      AgentSession.dialing_since < now - DIAL_CLAIM_TTL))
                           .order_by(AgentSession.since, AgentSession.user_id))
    return [row.user_id for row in rows if effective_state(session, row) == "ready"]


@dataclass(frozen=True)
class QueueAgentClaim:
    user_id: int
    extension: str


def claim_ready_agent(session: Session, queue_id: int, now: Optional[datetime] = None
                      ) -> Optional[QueueAgentClaim]:
    """Take the longest-waiting ready, free agent of a queue for one call: the same
    conditional UPDATE as the dial claim (`dialing_since`), so two engines, or an engine
    and the agent's own dial, never give the agent two calls at once. Commit before
    ringing; `assign_call` (or `release_dial` when nobody answers) ends the claim."""
    now = now or _now()
    for user_id in ready_agents(session, queue_id, now):
        extension = session.scalar(select(User.extension).where(User.id == user_id))
        if not extension:
            continue
        claimed = session.execute(
            update(AgentSession).where(AgentSession.user_id == user_id, AgentSession.state == "ready",
                                       or_(AgentSession.dialing_since.is_(None),
                                           AgentSession.dialing_since < now - DIAL_CLAIM_TTL))
            .values(dialing_since=now).execution_options(synchronize_session=False)).rowcount
        if claimed == 1:
            return QueueAgentClaim(user_id, extension)
    return None


def queues_with_ready_agents(session: Session, now: Optional[datetime] = None) -> list[int]:
    """Queues a ready, free agent could take a call of now (the ASAP gate's first rule)."""
    queue_ids = sorted(set(session.scalars(
        select(QueueAgent.queue_id).join(AgentSession, AgentSession.user_id == QueueAgent.user_id)
        .where(AgentSession.state == "ready"))))
    return [queue_id for queue_id in queue_ids if ready_agents(session, queue_id, now)]


def desk_phone_extensions(session: Session, queue_id: int) -> list[str]:
    """Extensions of a queue's agents who are not signed in to the agent API (logged out):
    they take queue calls at their desk phones. A signed-in agent is rung only while ready."""
    signed_in = select(AgentSession.user_id).where(AgentSession.state != "logged_out")
    return list(session.scalars(
        select(User.extension).join(QueueAgent, QueueAgent.user_id == User.id)
        .where(QueueAgent.queue_id == queue_id, User.extension.is_not(None), User.id.not_in(signed_in))
        .order_by(User.id)))


def assign_call(session: Session, call: Call, user_id: int) -> None:
    """A ledger call becomes the agent's: it shows in getcalls, and the agent is on it."""
    row = _agent_row(session, user_id)
    if row.state == "logged_out":
        raise NotLoggedIn(f"agent {user_id} is logged out")
    call.agent_id = user_id
    call.campaign_id = call.campaign_id or row.campaign_id
    session.flush()


# --- dialling ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DialPlan:
    user_id: int
    extension: Optional[str]
    number: str
    campaign_id: int
    caller_id: Optional[str]
    record: bool
    lead_id: Optional[int]


def plan_dial(session: Session, actor: User, user_id: int, phone: str, lead_id: Optional[int], *,
              default_region: str, now: Optional[datetime] = None) -> DialPlan:
    """Check that the agent may dial, and claim the dial (a conditional UPDATE, so two
    requests at once cannot both place a call). Commit before placing the call."""
    now = now or _now()
    user = authorize(session, actor, user_id)
    row = _agent_row(session, user.id)
    if row.state == "logged_out":
        raise NotLoggedIn("log in to a campaign first")
    calls = _open_calls(session, user.id)
    if any(c.state in ledger.IN_PROGRESS and not c.held for c in calls):
        raise OnCall("the agent is on a call: hold it (to consult) or hang up first")
    if calls and not any(c.state in ledger.IN_PROGRESS for c in calls):
        raise Wrapping("a call waits for its disposition: dispose it first")
    number = to_e164_or_refuse(phone, _region(session, user, default_region))
    if lead_id is not None and _by_id(session, Lead, lead_id) is None:
        raise NoSuchThing(f"no lead {lead_id}")
    campaign = session.get(Campaign, row.campaign_id)
    claimed = session.execute(
        update(AgentSession).where(AgentSession.user_id == user.id,
                                   or_(AgentSession.dialing_since.is_(None),
                                       AgentSession.dialing_since < now - DIAL_CLAIM_TTL))
        .values(dialing_since=now)).rowcount
    if claimed != 1:
        raise OnCall("the agent is already placing a call")
    return DialPlan(user_id=user.id, extension=user.extension, number=number, campaign_id=campaign.id,
                    caller_id=campaign.caller_id, record=bool(campaign.auto_record), lead_id=lead_id)


def to_e164_or_refuse(phone: str, region: str) -> str:
    if not phone or len(phone) > MAX_LEAD_PHONE:
        raise BadInput("a phone number of 1 to 32 characters is required")
    try:
        return to_e164(phone, region)
    except InvalidInput as exc:
        raise BadInput(str(exc)) from None


def _region(session: Session, user: User, default_region: str) -> str:
    company = session.get(Company, user.company_id) if user.company_id else None
    return (company.regions or [default_region])[0] if company else default_region


def release_dial(session: Session, user_id: int) -> None:
    session.execute(update(AgentSession).where(AgentSession.user_id == user_id).values(dialing_since=None))


def record_dial(session: Session, plan: DialPlan, source: str, switch_call_id: str) -> CallView:
    """After the switch placed the call (its call.started is in the ledger): the call is
    the agent's, in its campaign, for its lead (the newest with that number, else a new one)."""
    call = ledger.find_call(session, source, switch_call_id)
    if call is None:
        raise SwitchRefused("the switch placed the call but the ledger has not seen it")
    campaign = session.get(Campaign, plan.campaign_id)
    call.agent_id, call.campaign_id = plan.user_id, plan.campaign_id
    call.company_id = call.company_id or campaign.company_id
    call.lead_id = plan.lead_id or _lead_for_number(session, plan.number, plan.campaign_id).id
    release_dial(session, plan.user_id)
    session.flush()
    return call_view(session, call)


def _lead_for_number(session: Session, number: str, campaign_id: Optional[int]) -> Lead:
    newest = session.scalar(select(Lead).join(LeadPhone, LeadPhone.lead_id == Lead.id)
                            .where(LeadPhone.phone_number == number)
                            .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(1))
    return newest or new_lead(session, number, campaign_id)


def new_lead(session: Session, number: str, campaign_id: Optional[int]) -> Lead:
    lead = Lead(campaign_id=campaign_id, created_at=_now())
    lead.phones.append(LeadPhone(phone_number=number, record_type="Home", record_type_id=1))
    session.add(lead)
    session.flush()
    return lead


# --- acting on a call -------------------------------------------------------------------

@dataclass(frozen=True)
class CallRef:
    """What a switch action needs, read in one short transaction before it."""
    id: int
    external_id: str
    live: bool


def agents_call(session: Session, actor: User, user_id: int, call_id: int, source: str) -> Call:
    user = authorize(session, actor, user_id)
    call = session.get(Call, call_id)
    if call is None:
        raise NoSuchThing(f"no call {call_id}")
    if call.agent_id != user.id:
        raise NotYourCall(f"call {call_id} is not a call of agent {user.id}")
    if call.disposed_at is not None:
        raise CallDisposed(f"call {call_id} is already dispositioned ({call.result_code})")
    if call.source != source:
        raise NotControllable(f"call {call_id} came from a PBX: this server cannot control it")
    return call


def check_hold(session: Session, actor: User, user_id: int, call_id: int, source: str) -> CallRef:
    call = agents_call(session, actor, user_id, call_id, source)
    if call.state != "answered":
        raise CallNotConnected(f"call {call_id} is {call.state}, not connected: it cannot be held")
    if call.held:
        raise CallAlreadyHeld(f"call {call_id} is already on hold")
    return CallRef(call.id, call.external_id, True)


def check_retrieve(session: Session, actor: User, user_id: int, call_id: int, source: str) -> CallRef:
    call = agents_call(session, actor, user_id, call_id, source)
    if call.state != "answered" or not call.held:
        raise CallNotHeld(f"call {call_id} is not on hold")
    return CallRef(call.id, call.external_id, True)


def set_held(session: Session, call_id: int, held: bool) -> CallView:
    call = session.get(Call, call_id)
    call.held = held
    session.flush()
    return call_view(session, call)


def check_recording(session: Session, actor: User, user_id: int, call_id: int, source: str) -> CallRef:
    call = agents_call(session, actor, user_id, call_id, source)
    if call.state not in ledger.IN_PROGRESS:
        raise CallEnded(f"call {call_id} has ended: its recording can no longer change")
    if call.recording is None or call.recording.state not in ("recording", "paused"):
        raise NotRecorded(f"call {call_id} is not being recorded")
    return CallRef(call.id, call.external_id, True)


def check_hangup(session: Session, actor: User, user_id: int, call_id: int, source: str) -> CallRef:
    call = agents_call(session, actor, user_id, call_id, source)
    if call.state not in ledger.IN_PROGRESS:
        raise CallEnded(f"call {call_id} has already ended")
    return CallRef(call.id, call.external_id, True)


def view_of(session: Session, call_id: int) -> CallView:
    return call_view(session, session.get(Call, call_id))


@dataclass(frozen=True)
class Disposition:
    result_code: str
    notes: Optional[str] = None
    num_sales: Optional[int] = None


def _check_disposition(session: Session, disposition: Disposition) -> None:
    if not disposition.result_code:
        raise UnknownResultCode("resultcode is required")
    if session.scalar(select(ResultCode.id).where(ResultCode.code == disposition.result_code)) is None:
        raise UnknownResultCode(f"unknown result code {disposition.result_code!r}")
    if disposition.notes is not None and len(disposition.notes) > MAX_NOTES:
        raise BadInput(f"notes are longer than {MAX_NOTES} characters")
    if disposition.num_sales is not None and not 0 <= disposition.num_sales <= 1_000_000:
        raise BadInput("numsales must be a whole number from 0")


def check_dispose(session: Session, actor: User, user_id: int, call_id: int, source: str,
                  disposition: Disposition) -> CallRef:
    call = agents_call(session, actor, user_id, call_id, source)
    _check_disposition(session, disposition)
    return CallRef(call.id, call.external_id, call.state in ledger.IN_PROGRESS)


def record_disposition(session: Session, call_id: int, disposition: Disposition) -> CallView:
    """Conditional on the call not being dispositioned already (two disposes at once)."""
    now = _now()
    done = session.execute(update(Call).where(Call.id == call_id, Call.disposed_at.is_(None)).values(
        result_code=disposition.result_code, disposed_at=now, held=False,
        **({"notes": disposition.notes} if disposition.notes is not None else {}),
        **({"num_sales": disposition.num_sales} if disposition.num_sales is not None else {}))).rowcount
    if done != 1:
        raise CallDisposed(f"call {call_id} is already dispositioned")
    call = session.get(Call, call_id)
    session.refresh(call)
    return call_view(session, call)


def check_connect(session: Session, actor: User, user_id: int, first: tuple[int, Disposition],
                  second: tuple[int, Disposition], source: str) -> tuple[CallRef, CallRef]:
    (id1, d1), (id2, d2) = first, second
    if id1 == id2:
        raise NotBridgeable("call1 and call2 must be two different calls")
    refs = []
    for call_id, disposition in ((id1, d1), (id2, d2)):
        call = agents_call(session, actor, user_id, call_id, source)
        if call.state != "answered":
            raise NotBridgeable(f"call {call_id} is {call.state}: only calls in progress can be connected")
        _check_disposition(session, disposition)
        refs.append(CallRef(call.id, call.external_id, True))
    return refs[0], refs[1]


def record_connect(session: Session, first: tuple[int, Disposition], second: tuple[int, Disposition]
                   ) -> list[CallView]:
    (id1, d1), (id2, d2) = first, second
    for a, b in ((id1, id2), (id2, id1)):
        session.get(Call, a).bridged_call_id = b
    session.flush()
    return [record_disposition(session, id1, d1), record_disposition(session, id2, d2)]


# --- leads ------------------------------------------------------------------------------

def lead_phones(session: Session, actor: User, user_id: int, lead_id: int) -> list[LeadPhone]:
    authorize(session, actor, user_id)
    lead = _by_id(session, Lead, lead_id)
    if lead is None:
        raise NoSuchThing(f"no lead {lead_id}")
    return sorted(lead.phones, key=lambda p: p.id)


def change_lead(session: Session, actor: User, user_id: int, call_id: int, lead_phone_id: int, source: str
                ) -> CallView:
    call = agents_call(session, actor, user_id, call_id, source)
    phone = _by_id(session, LeadPhone, lead_phone_id)
    if phone is None:
        raise NoSuchThing(f"no lead phone {lead_phone_id}")
    call.lead_id = phone.lead_id
    session.flush()
    return call_view(session, call)


def create_new_lead(session: Session, actor: User, user_id: int, call_id: int, phone: str, source: str, *,
                    default_region: str) -> CallView:
    call = agents_call(session, actor, user_id, call_id, source)
    user = session.get(User, user_id)
    lead = new_lead(session, to_e164_or_refuse(phone, _region(session, user, default_region)), call.campaign_id)
    call.lead_id = lead.id
    session.flush()
    return call_view(session, call)


# --- directory listings -----------------------------------------------------------------

def users(session: Session, actor: User, user_id: int) -> list[User]:
    authorize(session, actor, user_id)
    return list(session.scalars(select(User).order_by(User.id)))


def result_codes(session: Session, actor: User, user_id: int) -> list[ResultCode]:
    authorize(session, actor, user_id)
    return list(session.scalars(select(ResultCode).order_by(ResultCode.id)))


def acd_queues(session: Session, actor: User, user_id: int) -> list[ServiceQueue]:
    authorize(session, actor, user_id)
    return list(session.scalars(select(ServiceQueue).order_by(ServiceQueue.id)))


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    ready_users: Sequence[int]
    leads_in_progress: Sequence[int]
    uncalled_leads: Sequence[int]
    lead_count: int
    calls_this_minute: int


def campaigns(session: Session, actor: User, user_id: int) -> list[CampaignView]:
    authorize(session, actor, user_id)
    now = _now()
    views = []
    for campaign in session.scalars(select(Campaign).order_by(Campaign.id)):
        ready = [row.user_id for row in session.scalars(
            select(AgentSession).where(AgentSession.campaign_id == campaign.id, AgentSession.state == "ready")
            .order_by(AgentSession.user_id)) if effective_state(session, row) == "ready"]
        in_progress = sorted(set(session.scalars(select(Call.lead_id).where(
            Call.campaign_id == campaign.id, Call.state.in_(ledger.IN_PROGRESS), Call.lead_id.is_not(None)))))
        called = select(Call.lead_id).where(Call.lead_id.is_not(None))
        uncalled = list(session.scalars(select(Lead.id).where(Lead.campaign_id == campaign.id,
                                                              Lead.id.not_in(called)).order_by(Lead.id)))
        lead_count = session.scalar(select(func.count(Lead.id)).where(Lead.campaign_id == campaign.id)) or 0
        this_minute = session.scalar(select(func.count(Call.id)).where(
            Call.campaign_id == campaign.id, Call.started_at >= now - timedelta(minutes=1))) or 0
        views.append(CampaignView(campaign, ready, in_progress, uncalled, lead_count, this_minute))
    return views


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _by_id(session: Session, model, row_id: int):
    """The row, or None; an id no column can hold (SOAP's xs:long LeadID) is no row."""
    return session.get(model, row_id) if 0 < row_id <= ID_MAX else None
