"""The whole Callsuite data model (CONTRACTS §1) as typed SQLAlchemy 2 models.

Every API reads and writes these tables; no service has private ones. Times are stored
as naive UTC (SQLite keeps no zone); `UtcDateTime` makes them aware again on the way out
so no edge ever sees a naive datetime.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, types
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(types.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        return None if value is None else value.replace(tzinfo=timezone.utc)


# Row ids are `integer` columns: 32 bits on PostgreSQL. A larger number is no row's id
# (handed to the driver it would be an overflow error).
ID_MAX = 2 ** 31 - 1


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


# --- tenants and people -------------------------------------------------------------

class Company(Base):
    """A tenant: Buzzeasy company, Callbutton client codes, Recall/BMS integration settings."""

    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[Optional[str]] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    regions: Mapped[list[Any]] = mapped_column(default=lambda: ["GB", "IE"])
    whitelist: Mapped[list[Any]] = mapped_column(default=list)
    blacklist: Mapped[list[Any]] = mapped_column(default=list)
    field_names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bms_notify_url: Mapped[Optional[str]] = mapped_column(Text)
    crm_url_template: Mapped[Optional[str]] = mapped_column(Text)
    crm_web_service: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    text_files_dir: Mapped[Optional[str]] = mapped_column(Text)
    # Recall (seed 003): how a CRM names the recording file, the text files' separator, and
    # the secret that signs outbound deliveries (kept as configured: it is needed to sign).
    recording_path_prefix: Mapped[Optional[str]] = mapped_column(Text)
    text_files_separator: Mapped[str] = mapped_column(String(8), default="comma")
    hmac_secret: Mapped[Optional[str]] = mapped_column(Text)

    client_codes: Mapped[list["ClientCode"]] = relationship(back_populates="company")


class ClientCode(Base):
    """A Callbutton client code (usually a toll-free number) belonging to one company."""

    __tablename__ = "client_codes"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    company: Mapped[Company] = relationship(back_populates="client_codes")


class PartnerAccount(Base):
    """A Callbutton partner: reads call-detail reports for the client codes it is granted."""

    __tablename__ = "partner_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    allowed_ips: Mapped[list[Any]] = mapped_column(default=list)
    client_codes: Mapped[list[Any]] = mapped_column(default=list)


class User(Base):
    """An agent (seed 004) and/or a BMS user (seed 000; global listening rights)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    extension: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    global_listening: Mapped[bool] = mapped_column(Boolean, default=False)
    company_id: Mapped[Optional[int]] = mapped_column(ForeignKey("companies.id"))
    # Agent API (seed 004): a supervisor's token may act for other agents.
    supervisor: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Extension(Base):
    __tablename__ = "extensions"
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    company_id: Mapped[Optional[int]] = mapped_column(ForeignKey("companies.id"))


class Workstation(Base):
    """A BMS client workstation: how AddLink finds 'the active call' (by host or address)."""

    __tablename__ = "workstations"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    address: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    extension: Mapped[str] = mapped_column(String(32))


class AuthToken(Base):
    """Agent API token (seed 004), stored as a hash only."""

    __tablename__ = "auth_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]


# --- dialler and queues ---------------------------------------------------------------

class ServiceQueue(Base):
    """A Buzzeasy service queue, which is also the ACD (skill) queue of seed 004."""

    __tablename__ = "service_queues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    opening_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    slot_minutes: Mapped[int] = mapped_column(default=30)
    slot_capacity: Mapped[int] = mapped_column(default=1)
    holidays: Mapped[list[Any]] = mapped_column(default=list)
    ewt_minutes: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class QueueAgent(Base):
    __tablename__ = "queue_agents"
    queue_id: Mapped[int] = mapped_column(ForeignKey("service_queues.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    company_id: Mapped[Optional[int]] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    auto_record: Mapped[bool] = mapped_column(default=True)
    caller_id: Mapped[Optional[str]] = mapped_column(String(32))


class Lead(Base):
    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaigns.id"))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    phones: Mapped[list["LeadPhone"]] = relationship(back_populates="lead")


class LeadPhone(Base):
    __tablename__ = "lead_phones"
    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    phone_number: Mapped[str] = mapped_column(String(32), index=True)
    record_type: Mapped[str] = mapped_column(String(32), default="Home")
    record_type_id: Mapped[int] = mapped_column(default=1)
    lead: Mapped[Lead] = relationship(back_populates="phones")


class ResultCode(Base):
    __tablename__ = "result_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    is_success: Mapped[bool] = mapped_column(default=False)
    is_callback: Mapped[bool] = mapped_column(default=False)
    is_call_again: Mapped[bool] = mapped_column(default=False)
    is_agent_viewable: Mapped[bool] = mapped_column(default=True)
    is_system: Mapped[bool] = mapped_column(default=False)


class AgentSession(Base):
    """An agent's availability (seed 004): logged out, logged in to a campaign, or ready.

    "On call" and "wrapping" are not stored: they follow from the agent's calls that are
    not yet dispositioned (services.core.agents), so a call that ends on its own moves
    the agent to wrapping without anybody writing here.
    """

    __tablename__ = "agent_sessions"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="logged_out")  # logged_out, logged_in, ready
    campaign_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaigns.id"))
    since: Mapped[datetime]
    dialing_since: Mapped[Optional[datetime]]  # a dial is being placed: the claim against a second one


# --- the call ledger ------------------------------------------------------------------

class Call(Base):
    """One call, whichever API or switch it came through."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_calls_source_external"),
        Index("ix_calls_extension_state", "extension", "state"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_did_started", "did", "started_at"),
        Index("ix_calls_agent_disposed", "agent_id", "disposed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # "cti", "sim", ...
    external_id: Mapped[str] = mapped_column(String(128))
    company_id: Mapped[Optional[int]] = mapped_column(ForeignKey("companies.id"))
    direction: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # ringing, answered, ended
    started_at: Mapped[datetime]
    answered_at: Mapped[Optional[datetime]]
    ended_at: Mapped[Optional[datetime]]
    did: Mapped[Optional[str]] = mapped_column(String(32))
    ani: Mapped[Optional[str]] = mapped_column(String(32))
    target: Mapped[Optional[str]] = mapped_column(String(32))
    extension: Mapped[Optional[str]] = mapped_column(String(32))
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    campaign_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaigns.id"))
    queue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("service_queues.id"))
    lead_id: Mapped[Optional[int]] = mapped_column(ForeignKey("leads.id"))
    callback_request_id: Mapped[Optional[int]] = mapped_column(ForeignKey("callback_requests.id"))
    result: Mapped[Optional[str]] = mapped_column(String(32))
    result_code: Mapped[Optional[str]] = mapped_column(String(32))
    duration_s: Mapped[Optional[int]]
    talk_time_s: Mapped[Optional[int]]
    dtmf: Mapped[Optional[str]] = mapped_column(String(64))
    info_digits: Mapped[Optional[str]] = mapped_column(String(4))
    index_number: Mapped[Optional[str]] = mapped_column(String(32))
    other_data: Mapped[Optional[str]] = mapped_column(Text)
    caller_address: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    reviewed: Mapped[bool] = mapped_column(default=False)
    sales_status: Mapped[Optional[str]] = mapped_column(String(32))
    journal: Mapped[Optional[str]] = mapped_column(Text)
    notes: Mapped[Optional[str]] = mapped_column(Text)
    # Agent API (seed 004): held by the agent, dispositioned (with a sales count), bridged.
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    num_sales: Mapped[Optional[int]]
    disposed_at: Mapped[Optional[datetime]]
    bridged_call_id: Mapped[Optional[int]] = mapped_column(ForeignKey("calls.id"))

    recording: Mapped[Optional["Recording"]] = relationship(back_populates="call", uselist=False)


class Recording(Base):
    """The audio of one call. Created when the call starts so AddLink can name it live."""

    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="recording")  # recording, paused, available, missing, purged
    file_path: Mapped[Optional[str]] = mapped_column(Text)  # relative to the recording store
    format: Mapped[str] = mapped_column(String(8), default="mp3")
    size_bytes: Mapped[Optional[int]]
    duration_s: Mapped[Optional[float]]
    paused_spans: Mapped[list[Any]] = mapped_column(default=list)
    deletion_protected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    available_at: Mapped[Optional[datetime]]
    purged_at: Mapped[Optional[datetime]]

    call: Mapped[Call] = relationship(back_populates="recording")


class ActivityLink(Base):
    """A BMS activity (seed 000 AddLink) linked, or waiting to be linked, to a recording."""

    __tablename__ = "activity_links"
    __table_args__ = (Index("ix_activity_links_state", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(200), index=True)
    bms_type: Mapped[Optional[str]] = mapped_column(String(100))
    data1: Mapped[Optional[str]] = mapped_column(Text)
    data2: Mapped[Optional[str]] = mapped_column(Text)
    data3: Mapped[Optional[str]] = mapped_column(Text)
    data4: Mapped[Optional[str]] = mapped_column(Text)
    data5: Mapped[Optional[str]] = mapped_column(Text)
    host: Mapped[Optional[str]] = mapped_column(String(255))
    extension: Mapped[Optional[str]] = mapped_column(String(32))
    requested_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))  # pending, linked
    recording_id: Mapped[Optional[int]] = mapped_column(ForeignKey("recordings.id"))
    linked_at: Mapped[Optional[datetime]]
    linked_by: Mapped[Optional[str]] = mapped_column(String(100))

    recording: Mapped[Optional[Recording]] = relationship()


# --- callbacks (seed 001) -------------------------------------------------------------

class CallbackRequest(Base):
    __tablename__ = "callback_requests"
    __table_args__ = (Index("ix_callback_company_state", "company_id", "state"),
                      Index("ix_callback_due", "state", "next_attempt_at"),
                      Index("ix_callback_company_pin", "company_id", "pin"),  # a new request's PIN check
                      # BuzzMeInfo's look-up by number: the newest of a caller's requests
                      Index("ix_callback_company_phone", "company_id", "phone_e164", "requested_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_code: Mapped[str] = mapped_column(String(10), unique=True)
    pin: Mapped[str] = mapped_column(String(6))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    queue_id: Mapped[int] = mapped_column(ForeignKey("service_queues.id"))
    name: Mapped[Optional[str]] = mapped_column(String(200))
    phone_e164: Mapped[str] = mapped_column(String(32))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    asap: Mapped[bool] = mapped_column(default=True)
    scheduled_date: Mapped[Optional[date]] = mapped_column(Date)
    timeslot_id: Mapped[Optional[int]]
    scheduled_for: Mapped[Optional[datetime]]
    requested_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(24))  # open, calling, connected, succeeded, failed, cancelled
    retries: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[Optional[datetime]]
    # The callback engine's own state (services/core/callback_engine.py): the attempt in
    # progress is counted before its user leg is dialled; a claim holds a lease.
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(64))
    claimed_until: Mapped[Optional[datetime]]
    user_call_id: Mapped[Optional[str]] = mapped_column(String(128))  # the switch's id of the user leg
    agent_call_id: Mapped[Optional[str]] = mapped_column(String(128))  # ... and of the agent leg

    events: Mapped[list["CallbackEvent"]] = relationship(back_populates="request", order_by="CallbackEvent.id")


class CallbackEvent(Base):
    """One status event (CallingUser, UserConnected, ...) in the seed's spelling."""

    __tablename__ = "callback_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    attempt: Mapped[Optional[int]]  # which attempt of the request it belongs to
    request: Mapped[CallbackRequest] = relationship(back_populates="events")


class CallbackSlot(Base):
    """How many places of one time slot of a queue are taken: a conditional UPDATE
    (`used < capacity`) consumes one, so two requests racing for the last place cannot
    both get it."""

    __tablename__ = "callback_slots"
    queue_id: Mapped[int] = mapped_column(ForeignKey("service_queues.id"), primary_key=True)
    slot_date: Mapped[date] = mapped_column(Date, primary_key=True)
    timeslot_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    used: Mapped[int] = mapped_column(default=0)


class HubSubscription(Base):
    """A SignalR connection's Subscribe(confirmationCode) (seed 001 event notification).

    Kept in the database, not in the process that took the Subscribe, so a client's
    stream or poll served by another process (or after a restart) still delivers it."""

    __tablename__ = "hub_subscriptions"
    __table_args__ = (UniqueConstraint("connection_id", "request_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(36))
    request_id: Mapped[int] = mapped_column(ForeignKey("callback_requests.id"), index=True)
    created_at: Mapped[datetime]


class ServerSecret(Base):
    """A random key every server process sharing the database uses (e.g. the HMAC key of
    SignalR connection tokens), created by whichever process needs it first."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


# --- durable outbound notifications -----------------------------------------------------

class OutboxEntry(Base):
    """One outbound notification (BMS link notice, CRM URL, CRM web service).

    Stored before it is sent so a restart never loses it; the worker retries with backoff.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # bms_link, crm_url, crm_web_service
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed (dead letter)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    sent_at: Mapped[Optional[datetime]]
    # Sent with every attempt so a receiver can drop a repeated delivery.
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(80), unique=True)
    company_id: Mapped[Optional[int]] = mapped_column(ForeignKey("companies.id"))  # whose secret signs it


# --- sign-in rate limiting --------------------------------------------------------------

class SigninFailure(Base):
    """One failed sign-in (services/core/throttle.py). In the database, not in memory, so
    every server process sharing it counts the same failures; rows older than the window
    are deleted as new ones arrive."""

    __tablename__ = "signin_failures"
    __table_args__ = (
        Index("ix_signin_failures_key", "surface", "account", "address", "at"),
        Index("ix_signin_failures_address", "address", "at"),
        Index("ix_signin_failures_at", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    surface: Mapped[str] = mapped_column(String(32))  # "basic", "callbutton", "console", "cti", ...
    account: Mapped[str] = mapped_column(String(200))  # the username tried (may not exist)
    address: Mapped[str] = mapped_column(String(64))  # the client's address
    at: Mapped[datetime]


class AuditEntry(Base):
    """Who played, downloaded, linked, paused, resumed, protected or deleted a recording,
    from where (services/core/audit.py). Written in the transaction of the action itself."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_reference_at", "reference", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))  # played, downloaded, played_by_phone, linked, paused, ...
    recording_id: Mapped[Optional[int]] = mapped_column(Integer)  # no foreign key: the log outlives what it names
    reference: Mapped[Optional[str]] = mapped_column(String(64))
    call_id: Mapped[Optional[int]] = mapped_column(Integer)
    user: Mapped[Optional[str]] = mapped_column(String(200))  # who signed in; None: nobody (AddLink is open)
    address: Mapped[Optional[str]] = mapped_column(String(64))  # the client's address, or "local" for the CLI
    surface: Mapped[Optional[str]] = mapped_column(String(200))  # the route (or command) that acted
    binding: Mapped[Optional[str]] = mapped_column(String(16))  # http, rest, jsonp, soap11, soap12, cli, switch
    request_id: Mapped[Optional[str]] = mapped_column(String(64))
    detail: Mapped[Optional[str]] = mapped_column(String(1000))  # e.g. the BMS activity id of a link
