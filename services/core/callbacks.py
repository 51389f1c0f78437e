"""Buzzeasy callback requests (seed 001): the six Request Callback Service operations and
the two BuzzMeInfo look-ups, on the callback_requests of the data model.

Pure domain: every function takes a session and returns domain values (result codes,
slots, request rows); the edges render them in the seed's wire forms.

Checks of a request, in this order, each with the seed's result code: the company and its
password (-1; also for a queue that is not the company's, so nobody learns which queues
exist), the phone number (1), the white list (4), the black list (5), the telephony layer
(2), opening hours or the slot (3: closed, holiday, past, full or unknown slot).
"""
from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Mapping, Optional, Protocol, Union

import phonenumbers
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import CallbackEvent, CallbackRequest, CallbackSlot, Company, ServiceQueue
from storage.statements import Prepared, detached
from storage.units import UnitOfWork

from . import events
from .errors import CallsuiteError, InvalidInput, Unauthorized
from .security import verify_password_cached
from .slots import QueueCalendar, Slot, as_local

# The seed's status events, in its spelling.
CALLING_USER = "CallingUser"
USER_CONNECTED = "UserConnected"
CALLING_USER_FAILED = "CallingUserFailed"
CALLING_AGENT = "CallingAgent"
AGENT_CONNECTED = "AgentConnected"
CALL_ACCEPTED = "CallAccepted"
CALL_SUCCEEDED = "CallSucceeded"
CALL_FAILED = "CallFailed"
RESCHEDULED = "Rescheduled"
STATUSES = (CALLING_USER, USER_CONNECTED, CALLING_USER_FAILED, CALLING_AGENT, AGENT_CONNECTED,
            CALL_ACCEPTED, CALL_SUCCEEDED, CALL_FAILED, RESCHEDULED)

# Request states: open (waiting to be executed), calling (an attempt is in progress),
# succeeded, failed.
OPEN_STATES = ("open", "calling")
FIELDS = tuple(f"field{i}" for i in range(1, 11))
SURFACE = "buzzeasy"
SEARCH_DAYS = 62  # how far ahead GetNextThreeTimeSlots looks


class ResultCode(enum.IntEnum):
    OK = 0
    INVALID_NUMBER = 1
    UNAVAILABLE = 2  # "Unable to connect to remote location": the telephony layer cannot take it
    OUT_OF_HOURS = 3
    NOT_IN_WHITELIST = 4
    IN_BLACKLIST = 5
    AUTHENTICATION_FAILED = -1


@dataclass(frozen=True)
class Response:
    """The seed's ResponseMessage: no confirmation code unless the result is OK."""
    confirmation_code: str
    result_code: ResultCode

    @classmethod
    def refused(cls, code: ResultCode) -> "Response":
        return cls("", code)


@dataclass(frozen=True)
class Credentials:
    company_id: Optional[int]
    password: Optional[str]
    address: Optional[str]  # the client's address, for rate limiting


class AuthenticationFailed(Unauthorized):
    """Wrong company, password or queue; the message never says which."""

    def __init__(self) -> None:
        super().__init__("Authentication Failed")


class Throttle(Protocol):
    def check(self, session: Session, *, surface: str, account: str, address: Optional[str]) -> Optional[int]: ...

    def failed(self, session: Session, *, surface: str, account: str, address: Optional[str]) -> None: ...

    def succeeded(self, session: Session, *, surface: str, account: str, address: Optional[str]) -> None: ...


@dataclass(frozen=True)
class Caller:
    """Who is asking, once `authenticate` has checked the company's password."""
    credentials: Credentials
    verified: bool = False

    def company(self, unit: UnitOfWork) -> Company:
        """The authenticated company, or AuthenticationFailed; detached, holding what
        BuzzMeInfo's answers read (_CALL_DATA_COMPANY)."""
        row = _CALLER_COMPANY.first(unit, {"company": self.credentials.company_id}) if self.verified else None
        if row is None:
            raise AuthenticationFailed()
        return detached(Company, _CALL_DATA_COMPANY, row)

    def queue(self, unit: UnitOfWork, queue_id: Optional[int]) -> tuple[Company, ServiceQueue]:
        """The authenticated company's active queue (_OWN_QUEUE) and the company, or
        AuthenticationFailed; one prepared statement, both detached, holding what the request
        and slot rules read (zone, number rules, calendar)."""
        row = (_OWN_QUEUE_AND_COMPANY.first(unit, {"id": queue_id, "company": self.credentials.company_id})
               if self.verified and queue_id is not None else None)
        if row is None:
            raise AuthenticationFailed()
        cut = len(_ADMISSION_COMPANY)
        return detached(Company, _ADMISSION_COMPANY, row[:cut]), detached(ServiceQueue, _ADMISSION_QUEUE, row[cut:])


_COMPANIES, _QUEUES = Company.__table__.c, ServiceQueue.__table__.c
_ADMISSION_COMPANY = (_COMPANIES.id, _COMPANIES.timezone, _COMPANIES.regions, _COMPANIES.whitelist,
                      _COMPANIES.blacklist)
_ADMISSION_QUEUE = (_QUEUES.id, _QUEUES.company_id, _QUEUES.name, _QUEUES.opening_hours, _QUEUES.slot_minutes,
                    _QUEUES.slot_capacity, _QUEUES.holidays, _QUEUES.ewt_minutes, _QUEUES.active)
# The caller's queue: the authenticated company's, and active (else AuthenticationFailed).
_OWN_QUEUE = (_QUEUES.id == bindparam("id"), _QUEUES.company_id == bindparam("company"), _QUEUES.active.is_(True))
_OWN_QUEUE_AND_COMPANY = Prepared(select(*_ADMISSION_COMPANY, *_ADMISSION_QUEUE)
                                  .join_from(Company.__table__, ServiceQueue.__table__,
                                             _QUEUES.company_id == _COMPANIES.id)
                                  .where(*_OWN_QUEUE))


# Only what the sign-in needs: a whole company row decodes five JSON columns.
_COMPANY_PASSWORD = Prepared(select(Company.__table__.c.password_hash)
                             .where(Company.__table__.c.id == bindparam("id")))


# The Database, not a session: the password is checked (argon2, slow) between the read and the write.
def authenticate(database, credentials: Credentials, throttle: Optional[Throttle]) -> Caller:
    """Check the company's password (argon2, constant time) outside any write transaction,
    so a stream of wrong passwords never holds the database's write lock; failures are
    counted per company and address by the throttle. A rate-limited caller is refused
    without its password being checked, exactly like a wrong one; an unknown company is
    checked against a dummy hash, in the same time as a wrong password."""
    account, address = str(credentials.company_id), credentials.address
    with database.read_unit() as unit:
        earlier_failures = 0
        if throttle is not None:
            try:
                earlier_failures = throttle.check(unit, surface=SURFACE, account=account, address=address) or 0
            except CallsuiteError:
                return Caller(credentials, verified=False)
        company = (_COMPANY_PASSWORD.first(unit, {"id": credentials.company_id})
                   if credentials.company_id is not None else None)
        password_hash = company[0] if company is not None else None
    verified = verify_password_cached(password_hash, credentials.password) and company is not None
    if throttle is not None and (not verified or earlier_failures):
        with database.session() as session:
            if verified:
                throttle.succeeded(session, surface=SURFACE, account=account, address=address)
            else:
                throttle.failed(session, surface=SURFACE, account=account, address=address)
    return Caller(credentials, verified)


# --- phone numbers -----------------------------------------------------------------------

def normalise_phone(company: Company, phone: Optional[str], region: Optional[str]) -> Optional[str]:
    """E.164 as given, or a national number valid in `region` (one of the company's regions);
    None when neither."""
    text = (phone or "").strip()
    if not text:
        return None
    if text.startswith("+"):
        parse_region = None
    else:
        allowed = {str(r).upper() for r in company.regions or ()}
        if not region or region.strip().upper() not in allowed:
            return None
        parse_region = region.strip().upper()
    try:
        parsed = phonenumbers.parse(text, parse_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _screen(company: Company, phone: Optional[str], region: Optional[str],
            telephony_available: bool) -> tuple[Optional[str], Optional[ResultCode]]:
    e164 = normalise_phone(company, phone, region)
    if e164 is None:
        return None, ResultCode.INVALID_NUMBER
    if company.whitelist and e164 not in set(company.whitelist):
        return None, ResultCode.NOT_IN_WHITELIST
    if e164 in set(company.blacklist or ()):
        return None, ResultCode.IN_BLACKLIST
    if not telephony_available:
        return None, ResultCode.UNAVAILABLE
    return e164, None


# --- requests --------------------------------------------------------------------------

MAX_NAME = 200
MAX_FIELD = 1000


@dataclass(frozen=True)
class NewRequest:
    name: Optional[str]
    phone: Optional[str]
    queue_id: Optional[int]
    region: Optional[str] = None
    fields: Mapping[str, Optional[str]] = None  # field1..field10

    def __post_init__(self) -> None:
        # Beyond these sizes a request is malformed (the protocol's own error), not a result code.
        if self.name is not None and len(self.name) > MAX_NAME:
            raise InvalidInput(f"name is longer than {MAX_NAME} characters")
        if self.phone is not None and len(self.phone) > 64:
            raise InvalidInput("phoneNo is longer than 64 characters")
        if self.region is not None and len(self.region) > 8:
            raise InvalidInput("region is longer than 8 characters")
        for key, value in (self.fields or {}).items():
            if value is not None and len(value) > MAX_FIELD:
                raise InvalidInput(f"{key} is longer than {MAX_FIELD} characters")


_REQUESTS = CallbackRequest.__table__.c
# An open request, each state a literal (a Prepared statement has no expanding IN parameter).
_IS_OPEN = or_(*(_REQUESTS.state == state for state in OPEN_STATES))
_CODES_TAKEN = Prepared(select(_REQUESTS.id).where(
    (_REQUESTS.confirmation_code == bindparam("code"))
    | ((_REQUESTS.company_id == bindparam("company")) & (_REQUESTS.pin == bindparam("pin"))
       & _IS_OPEN)).limit(1))
_NEW_REQUEST_COLUMNS = ("confirmation_code", "pin", "company_id", "queue_id", "name", "phone_e164", "fields", "asap",
                        "scheduled_date", "timeslot_id", "scheduled_for", "requested_at", "state", "retries",
                        "attempts", "next_attempt_at")
_INSERT_REQUEST = Prepared(insert(CallbackRequest.__table__).values(
    {name: bindparam(name, type_=_REQUESTS[name].type) for name in _NEW_REQUEST_COLUMNS}))


def _new_codes(unit: UnitOfWork, company_id: int) -> tuple[str, str]:
    """A fresh 10-digit confirmation code whose last 6 digits (the PIN) no open request of
    the company uses."""
    while True:
        code = f"{secrets.randbelow(10 ** 10):010d}"
        pin = code[-6:]
        if _CODES_TAKEN.first(unit, {"code": code, "company": company_id, "pin": pin}) is None:
            return code, pin


def _store(unit: UnitOfWork, company: Company, queue: ServiceQueue, request: NewRequest, e164: str,
           now: datetime, *, due: datetime, slot_date: Optional[date] = None,
           timeslot_id: Optional[int] = None) -> str:
    """The new open request (one prepared INSERT): its confirmation code."""
    code, pin = _new_codes(unit, company.id)
    _INSERT_REQUEST.run(unit, {
        "confirmation_code": code, "pin": pin, "company_id": company.id, "queue_id": queue.id,
        "name": request.name, "phone_e164": e164,
        "fields": {k: v for k, v in (request.fields or {}).items() if k in FIELDS and v is not None},
        "asap": slot_date is None, "scheduled_date": slot_date, "timeslot_id": timeslot_id,
        "scheduled_for": None if slot_date is None else due, "requested_at": now, "state": "open",
        "retries": 0, "attempts": 0, "next_attempt_at": due})
    return code


def _admit(unit: UnitOfWork, caller: Caller, request: NewRequest,
           telephony_available: bool) -> Union[Response, tuple[Company, ServiceQueue, str]]:
    """What both request operations check first: the caller's company and queue, then the
    number (format, white and black lists, telephony). A refusal comes back as its Response."""
    try:
        company, queue = caller.queue(unit, request.queue_id)
    except AuthenticationFailed:
        return Response.refused(ResultCode.AUTHENTICATION_FAILED)
    e164, refusal = _screen(company, request.phone, request.region, telephony_available)
    if refusal is not None:
        return Response.refused(refusal)
    return company, queue, e164


def request_call_when_available(unit: UnitOfWork, caller: Caller, request: NewRequest, *,
                                telephony_available: bool, now: Optional[datetime] = None) -> Response:
    """Prepared statements only: the edges run it in a statement unit (Database.unit)."""
    now = now or datetime.now(timezone.utc)
    admitted = _admit(unit, caller, request, telephony_available)
    if isinstance(admitted, Response):
        return admitted
    company, queue, e164 = admitted
    if not QueueCalendar.of(queue, company).is_open(now):
        return Response.refused(ResultCode.OUT_OF_HOURS)
    return Response(_store(unit, company, queue, request, e164, now, due=now), ResultCode.OK)


def take_place(session: Session, queue: ServiceQueue, slot_date: date, timeslot_id: int) -> bool:
    """Consume one place of a slot, atomically: True for exactly as many callers as the
    slot has places, however many race for them (conditional UPDATE, checked by row count)."""
    try:
        with session.begin_nested():
            session.add(CallbackSlot(queue_id=queue.id, slot_date=slot_date, timeslot_id=timeslot_id, used=0))
    except IntegrityError:
        pass  # another request created the row first: fine, the UPDATE below decides
    result = session.execute(
        update(CallbackSlot)
        .where(CallbackSlot.queue_id == queue.id, CallbackSlot.slot_date == slot_date,
               CallbackSlot.timeslot_id == timeslot_id, CallbackSlot.used < queue.slot_capacity)
        .values(used=CallbackSlot.used + 1).execution_options(synchronize_session=False))
    return result.rowcount == 1


def request_call_schedule(session: Session, caller: Caller, request: NewRequest, *, timeslot_id: Optional[int],
                          when: Optional[datetime], telephony_available: bool,
                          now: Optional[datetime] = None) -> Response:
    """`when` names the day (its date in the company's zone; naive is the company's wall time)."""
    now = now or datetime.now(timezone.utc)
    admitted = _admit(session, caller, request, telephony_available)
    if isinstance(admitted, Response):
        return admitted
    company, queue, e164 = admitted
    slot = day = None
    if when is not None and timeslot_id is not None:
        day = as_local(when, company.timezone).date()
        slot = QueueCalendar.of(queue, company).slot(day, timeslot_id)
    if slot is None or slot.start <= now or not take_place(session, queue, day, timeslot_id):
        return Response.refused(ResultCode.OUT_OF_HOURS)  # unknown, closed, past or full
    code = _store(session, company, queue, request, e164, now, due=slot.start.astimezone(timezone.utc),
                  slot_date=day, timeslot_id=timeslot_id)
    return Response(code, ResultCode.OK)


# --- slots -------------------------------------------------------------------------------

_SLOTS = CallbackSlot.__table__.c
# A range of the primary key (queue_id, slot_date, timeslot_id): the days offered are consecutive.
_USED_FROM_TO = Prepared(select(_SLOTS.slot_date, _SLOTS.timeslot_id, _SLOTS.used).where(
    _SLOTS.queue_id == bindparam("queue"), _SLOTS.slot_date.between(bindparam("first"), bindparam("last"))))


def _used(session: UnitOfWork, queue: ServiceQueue, first: date, last: date) -> dict[tuple[date, int], int]:
    """The places taken of the queue's slots from day `first` to day `last`."""
    rows = _USED_FROM_TO.all(session, {"queue": queue.id, "first": first, "last": last})
    return {(d, t): used for d, t, used in rows}


def _offered(session: UnitOfWork, company: Company, queue: ServiceQueue, after: datetime, now: datetime,
             days: int, limit: Optional[int]) -> list[Slot]:
    calendar = QueueCalendar.of(queue, company)
    start_day = calendar.local(max(after, now)).date() if days > 1 else calendar.local(after).date()
    span = [date.fromordinal(start_day.toordinal() + i) for i in range(days)]
    used = _used(session, queue, span[0], span[-1])
    offered: list[Slot] = []
    for day in span:
        for slot in calendar.slots_on(day):
            if slot.start < after or slot.start <= now:
                continue
            if used.get((day, slot.timeslot_id), 0) >= queue.slot_capacity:
                continue
            offered.append(slot)
            if limit is not None and len(offered) >= limit:
                return offered
    return offered


def available_times(session: UnitOfWork, caller: Caller, queue_id: Optional[int], after: datetime, *,
                    now: Optional[datetime] = None) -> list[Slot]:
    """The slots of `after`'s day (in the company's zone; naive is its wall time) that start
    at or after it, are not past and have a place left. AuthenticationFailed for wrong
    credentials."""
    company, queue = caller.queue(session, queue_id)
    return _offered(session, company, queue, as_local(after, company.timezone), now or datetime.now(timezone.utc),
                    1, None)


def next_three_time_slots(session: UnitOfWork, caller: Caller, queue_id: Optional[int], after: datetime, *,
                          now: Optional[datetime] = None) -> list[Slot]:
    company, queue = caller.queue(session, queue_id)
    return _offered(session, company, queue, as_local(after, company.timezone), now or datetime.now(timezone.utc),
                    SEARCH_DAYS, 3)


# --- EWT ---------------------------------------------------------------------------------

_SET_OWN_QUEUE_EWT = Prepared(update(ServiceQueue.__table__).where(*_OWN_QUEUE)
                              .values(ewt_minutes=bindparam("ewt")).returning(_QUEUES.id))


def update_ewt(unit: UnitOfWork, caller: Caller, queue_id: Optional[int], ewt_minutes: Optional[int]) -> bool:
    """False for wrong credentials or an EWT that is not a number of minutes >= 0."""
    if not caller.verified or queue_id is None or ewt_minutes is None or ewt_minutes < 0:
        return False
    return _SET_OWN_QUEUE_EWT.first(unit, {"id": queue_id, "company": caller.credentials.company_id,
                                           "ewt": int(ewt_minutes)}) is not None


_OWN_QUEUE_EWT = Prepared(select(_QUEUES.ewt_minutes).where(*_OWN_QUEUE))


def ewt_of(unit: UnitOfWork, caller: Caller, queue_id: Optional[int]) -> int:
    """The queue's EWT in minutes; -1 (the seed's authentication failure code) when refused."""
    row = (_OWN_QUEUE_EWT.first(unit, {"id": queue_id, "company": caller.credentials.company_id})
           if caller.verified and queue_id is not None else None)
    return int(ResultCode.AUTHENTICATION_FAILED) if row is None else row[0]


# --- BuzzMeInfo --------------------------------------------------------------------------

@dataclass(frozen=True)
class CallData:
    request: CallbackRequest
    queue: ServiceQueue
    zone: str
    field_names: Mapping[str, str]

    def field(self, name: str) -> tuple[str, Optional[str]]:
        """(configured field name, value) of field1..field10; the name defaults to `fieldN`."""
        return str(self.field_names.get(name) or name), (self.request.fields or {}).get(name)


# What the two answers read (services/info/wire.py): the company's zone and field names, the
# request, its queue's name; the company's regions to read a national number.
_CALL_DATA_COMPANY = (_COMPANIES.id, _COMPANIES.timezone, _COMPANIES.regions, _COMPANIES.field_names)
_CALL_DATA_REQUEST = (_REQUESTS.id, _REQUESTS.queue_id, _REQUESTS.name, _REQUESTS.phone_e164, _REQUESTS.fields,
                      _REQUESTS.retries, _REQUESTS.confirmation_code, _REQUESTS.scheduled_for,
                      _REQUESTS.requested_at)
_CALLER_COMPANY = Prepared(select(*_CALL_DATA_COMPANY).where(_COMPANIES.id == bindparam("company")))
_OPEN_REQUEST = (select(*_CALL_DATA_REQUEST, _QUEUES.id, _QUEUES.name)
                 .join_from(CallbackRequest.__table__, ServiceQueue.__table__, _QUEUES.id == _REQUESTS.queue_id)
                 .where(_REQUESTS.company_id == bindparam("company"), _IS_OPEN)
                 .limit(1))
# The newest first, by the index on (company_id, phone_e164, requested_at): a look-up, not a
# scan of the company's open requests.
_OPEN_REQUEST_BY_NUMBER = Prepared(_OPEN_REQUEST.where(_REQUESTS.phone_e164 == bindparam("phone"))
                                   .order_by(_REQUESTS.requested_at.desc(), _REQUESTS.id.desc()))
_OPEN_REQUEST_BY_PIN = Prepared(_OPEN_REQUEST.where(_REQUESTS.pin == bindparam("pin")).order_by(_REQUESTS.id.desc()))


def call_data_by_number(unit: UnitOfWork, caller: Caller, presented_number: Optional[str]) -> Optional[CallData]:
    """The company's most recent open (or connecting) request from that number; None if none.
    AuthenticationFailed for wrong credentials."""
    company = caller.company(unit)
    e164 = normalise_phone(company, presented_number, (company.regions or ["GB"])[0])
    if e164 is None:
        return None
    return _call_data(company, _OPEN_REQUEST_BY_NUMBER.first(unit, {"company": company.id, "phone": e164}))


def call_data_by_pin(unit: UnitOfWork, caller: Caller, pin: Optional[str]) -> Optional[CallData]:
    company = caller.company(unit)
    return _call_data(company, _OPEN_REQUEST_BY_PIN.first(unit, {"company": company.id, "pin": (pin or "").strip()}))


def _call_data(company: Company, row: Optional[tuple]) -> Optional[CallData]:
    if row is None:
        return None
    cut = len(_CALL_DATA_REQUEST)
    return CallData(detached(CallbackRequest, _CALL_DATA_REQUEST, row[:cut]),
                    detached(ServiceQueue, (_QUEUES.id, _QUEUES.name), row[cut:]),
                    company.timezone, dict(company.field_names or {}))


# --- status history ------------------------------------------------------------------------

def record_status(session: Session, request: CallbackRequest, status: str, at: datetime,
                  attempt: Optional[int] = None) -> CallbackEvent:
    """Store one status event and publish it in the same transaction (the event hub sends
    the rows in order, per confirmation code)."""
    if status not in STATUSES:
        raise ValueError(f"unknown callback status {status!r}")
    event = CallbackEvent(request_id=request.id, status=status, at=at,
                          attempt=request.attempts if attempt is None else attempt)
    session.add(event)
    session.flush()
    events.publish(session, events.CallbackStatusChanged(
        request_id=request.id, confirmation_code=request.confirmation_code, status=status, event_id=event.id))
    return event


def history(session: Session, request_id: int) -> list[CallbackEvent]:
    return list(session.scalars(select(CallbackEvent).where(CallbackEvent.request_id == request_id)
                                .order_by(CallbackEvent.id)))


def by_confirmation_code(session: Session, code: str) -> Optional[CallbackRequest]:
    return session.scalar(select(CallbackRequest).where(CallbackRequest.confirmation_code == code))
