"""Callbutton call details (seed 002) as the domain sees them: who the partner is, which
client codes it may read, and the calls of a client code, read from the ledger in batches.

No Spyne, no WSGI: the XML edge (POST /cb/main/jsp/xml/xml.jsp), the recording URL and the
SOAP/GET service all call these functions and translate the errors into their protocol.

Decisions (see also the report in services/calldata/xml_service.py):

* Authentication: username + password (argon2, :func:`security.verify_password_cached`) of a
  PartnerAccount, then the client address against its ``allowed_ips``: exact addresses or
  CIDR networks, IPv4 or IPv6 (``::ffff:a.b.c.d`` counts as ``a.b.c.d``). An empty list
  allows nobody (fail closed); ``0.0.0.0/0`` and ``::/0`` allow everybody. Entries that are
  not addresses are ignored (and logged). A wrong username or password is
  :class:`Unauthorized`; the right password from an address not allowed is
  :class:`AddressNotAllowed` (a :class:`Forbidden`).
* Grants: a partner reads the client codes listed in its ``client_codes``. The entry
  ``"*"`` grants every client code provisioned in ``client_codes`` (the table). A request
  for ``*`` means every code the partner is granted, in sorted order.
* A requested code the partner is not granted - whether or not it exists, so that a
  partner cannot probe which codes exist - refuses the WHOLE request with
  :class:`ClientCodeNotGranted` (a :class:`Forbidden`), naming the codes. The seed's
  answer has one status for the whole document, so there is no partial success.
  A granted code with no calls (or not provisioned as a company's code) is answered with
  an empty CallDetails.
* A call belongs to a client code through its DID (the tracking number): the 10-digit
  code ``8005551234`` matches calls whose DID is ``+18005551234``; any other code matches a
  DID equal to the code as written.
* Date range: ``start <= started_at < end + 1 s`` (the seed's dates have whole seconds, so
  the end second is included); no start means from the beginning, no end means until now
  (no upper bound).
* Batches: keyset pagination on ``(started_at, id)``, ``batch_size`` rows per query, each
  in its own short session (transaction), so a long report holds no transaction, no
  connection and no lock between batches and memory stays bounded. The report is not one
  snapshot: a call inserted behind the cursor while the report streams is not seen, one
  inserted ahead of it is.
* ``recorded`` means a recording in state ``available`` with a file; a call still being
  recorded gets no VoiceDirectory until its audio is in the store.
"""
from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Optional, Sequence

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from storage.models import Call, ClientCode, PartnerAccount, Recording
from storage.statements import Prepared
from storage.units import UnitOfWork

from .callfacts import STORED_FACTS, CallFacts
from .errors import Forbidden, InvalidInput, NotFound, Unauthorized
from .security import verify_password_cached

log = logging.getLogger(__name__)


# What the call-detail report holds of a call: the read model the Callbutton edge renders.
@dataclass(frozen=True)
class ReportAddress:
    first_name: str = ""
    middle_initial: str = ""
    last_name: str = ""
    street_address: str = ""
    secondary_address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    zip4: str = ""


@dataclass(frozen=True)
class ReportCall(CallFacts):
    """A call as the report holds it: its facts (keyword arguments; `record` is whether it has
    a recording at all) and what the ledger has learnt of it since."""
    call_id: str
    start_time: datetime  # aware, UTC
    duration: Optional[int] = None
    talk_time: Optional[int] = None
    recorded: bool = False  # its audio is available (the report gives a VoiceDirectory)
    reviewed: bool = False
    sales_status: Optional[str] = None
    journal: Optional[str] = None

    @property
    def campaign(self) -> Optional[str]:
        return None if self.campaign_id is None else str(self.campaign_id)  # seed 002 shows the campaign's id

    @property
    def address(self) -> Optional[ReportAddress]:
        return report_address(self.caller_address)


@dataclass(frozen=True)
class RequestedClient:
    code: str
    status: bool = False


BATCH_SIZE = 1000
MAX_CLIENT_CODE_LENGTH = 100
ALL = "*"
_TEN_DIGITS = re.compile(r"[0-9]{10}")


class AddressNotAllowed(Forbidden):
    """Valid credentials from an address the partner's allow-list does not hold."""


class ClientCodeNotGranted(Forbidden):
    """The partner asked for client codes it may not read."""


@dataclass(frozen=True)
class Partner:
    id: int
    username: str
    grants: tuple[str, ...]  # as provisioned; may hold "*"

    @property
    def grants_everything(self) -> bool:
        return ALL in self.grants


# --------------------------------------------------------------------------- addresses


def _address(text: str) -> Optional[ipaddress._BaseAddress]:
    try:
        address = ipaddress.ip_address((text or "").strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(allowed: Iterable[Any], client_ip: Optional[str]) -> bool:
    """Is ``client_ip`` one of the exact addresses or inside one of the CIDR networks?"""
    address = _address(client_ip or "")
    if address is None:
        return False
    for entry in allowed or ():
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            log.warning("ignoring allowed_ips entry %r: not an address or network", entry)
            continue
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96 \
                and network.network_address.ipv4_mapped is not None:
            network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
        if address.version == network.version and address in network:
            return True
    return False


# --------------------------------------------------------------------------- partners


class PartnerRow(NamedTuple):
    id: int
    username: str
    password_hash: str
    allowed_ips: Optional[list]
    client_codes: Optional[list]


_PARTNERS = PartnerAccount.__table__
_PARTNER_NAMED = Prepared(select(*(_PARTNERS.c[name] for name in PartnerRow._fields))
                          .where(_PARTNERS.c.username == bindparam("username")))


def partner_account(session: UnitOfWork, username: Optional[str]) -> Optional[PartnerRow]:
    """The partner account a sign-in names (None for none), read before its password is checked."""
    if not username:
        return None
    row = _PARTNER_NAMED.first(session, {"username": username})
    return None if row is None else PartnerRow(*row)


def verified_partner(row, username: Optional[str], password: Optional[str], client_ip: Optional[str]) -> Partner:
    """The partner, if the password is theirs and they call from an allowed address. Outside
    any transaction: argon2 takes a noticeable fraction of a second."""
    if not username or password is None:
        raise Unauthorized("a partner username and password are required")
    # verify_password_cached runs argon2 even for an unknown user, so timing does not tell.
    if not verify_password_cached(row.password_hash if row else None, password) or row is None:
        log.info("Callbutton partner %r: wrong username or password (from %s)", username, client_ip)
        raise Unauthorized("invalid username or password")
    if not address_allowed(row.allowed_ips or [], client_ip):
        log.info("Callbutton partner %r: address %s not allowed", username, client_ip)
        raise AddressNotAllowed(f"access from address {client_ip or 'unknown'} is not allowed "
                                f"for user {row.username}")
    grants = tuple(dict.fromkeys(str(code).strip() for code in row.client_codes or [] if str(code).strip()))
    return Partner(id=row.id, username=row.username, grants=grants)


_CODES = ClientCode.__table__.c
_EVERY_CODE = Prepared(select(_CODES.code))
_CODE_NAMED = Prepared(select(_CODES.code).where(_CODES.code == bindparam("code")))


def granted_codes(session: UnitOfWork, partner: Partner) -> list[str]:
    """Every client code the partner may read, sorted."""
    codes = {code for code in partner.grants if code != ALL}
    if partner.grants_everything:
        codes.update(row[0] for row in _EVERY_CODE.all(session, {}))
    return sorted(codes)


def is_granted(session: UnitOfWork, partner: Partner, code: str) -> bool:
    if code in partner.grants and code != ALL:
        return True
    return partner.grants_everything and _CODE_NAMED.first(session, {"code": code}) is not None


def resolve_clients(session: UnitOfWork, partner: Partner, requested: Sequence[RequestedClient],
                    all_clients: bool) -> list[RequestedClient]:
    """The client codes to report, in order, with their status flags.

    ``*`` (first) expands to every granted code with the ``*`` entry's flag; codes named
    after it are ignored (calldata/request.py refuses a ``*`` anywhere else). A code
    named twice is reported once, at its first place, with the status flag set if any of
    its entries set it.
    """
    if not requested:
        raise InvalidInput("at least one ClientCode is required")
    if all_clients:
        return [RequestedClient(code, requested[0].status) for code in granted_codes(session, partner)]
    merged: dict[str, bool] = {}
    for client in requested:
        code = client.code.strip()
        if not code or len(code) > MAX_CLIENT_CODE_LENGTH:
            raise InvalidInput(f"client code {code[:20]!r} must be 1 to {MAX_CLIENT_CODE_LENGTH} characters")
        if code == ALL:
            raise InvalidInput("ClientCode '*' (all clients) is only allowed as the first ClientCode")
        merged[code] = merged.get(code, False) or client.status
    refused = [code for code in merged if not is_granted(session, partner, code)]
    if refused:
        named = ", ".join(refused[:20]) + (f" and {len(refused) - 20} more" if len(refused) > 20 else "")
        raise ClientCodeNotGranted(f"user {partner.username} is not authorized for client code(s) {named}")
    return [RequestedClient(code, flag) for code, flag in merged.items()]


# --------------------------------------------------------------------------- numbers


def did_for_code(code: str) -> str:
    """The ledger's DID (E.164) of a client code: 10 digits -> +1XXXXXXXXXX."""
    code = code.strip()
    return f"+1{code}" if _TEN_DIGITS.fullmatch(code) else code


def code_for_did(did: Optional[str]) -> Optional[str]:
    """The client code a call belongs to, from its DID (the inverse of did_for_code)."""
    if not did:
        return None
    did = did.strip()
    if did.startswith("+1") and _TEN_DIGITS.fullmatch(did[2:]):
        return did[2:]
    return did


# --------------------------------------------------------------------------- the query


_ADDRESS_KEYS = {
    "first_name": ("FirstName", "first_name", "firstName"),
    "middle_initial": ("MiddleInitial", "middle_initial", "middleInitial", "mi"),
    "last_name": ("LastName", "last_name", "lastName"),
    "street_address": ("StreetAddress", "street_address", "streetAddress", "address"),
    "secondary_address": ("SecondaryAddress", "secondary_address", "secondaryAddress"),
    "city": ("City", "city"),
    "state": ("State", "state"),
    "zip": ("ZIP", "zip", "Zip"),
    "zip4": ("ZIP4", "zip4", "Zip4"),
}


def report_address(value: Any) -> Optional[ReportAddress]:
    """The ledger's ``caller_address`` JSON (the seed's tag names, or snake_case) ->
    ReportAddress; None when nothing is known (the seed omits <Address> then)."""
    if not isinstance(value, Mapping):
        return None
    fields: dict[str, str] = {}
    for name, keys in _ADDRESS_KEYS.items():
        for key in keys:
            item = value.get(key)
            if item is not None and str(item).strip():
                fields[name] = str(item).strip()
                break
    return ReportAddress(**fields) if fields else None


_CALLS, _RECORDINGS = Call.__table__, Recording.__table__
_FACT_COLUMNS = tuple(_CALLS.c[name] for name in STORED_FACTS)
_COLUMNS = (_CALLS.c.id, _CALLS.c.started_at, _CALLS.c.duration_s, _CALLS.c.talk_time_s, _CALLS.c.reviewed,
            _CALLS.c.sales_status, _CALLS.c.journal, _RECORDINGS.c.state, _RECORDINGS.c.file_path, *_FACT_COLUMNS)
_FIRST_FACT = len(_COLUMNS) - len(_FACT_COLUMNS)
# No start or no end is the widest instant the column holds: one statement for every request.
_EARLIEST, _LATEST = datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _batch(after_last: bool) -> Prepared:
    started = _CALLS.c.started_at
    statement = (select(*_COLUMNS).select_from(_CALLS.outerjoin(_RECORDINGS, _RECORDINGS.c.call_id == _CALLS.c.id))
                 .where(_CALLS.c.did == bindparam("did"), started >= bindparam("since", type_=started.type),
                        started < bindparam("until", type_=started.type)))
    if after_last:
        last_started = bindparam("last_started", type_=started.type)
        # Written so that the (did, started_at) index gives a range scan.
        statement = statement.where(started >= last_started, or_(
            started > last_started, and_(started == last_started, _CALLS.c.id > bindparam("last_id"))))
    return Prepared(statement.order_by(started, _CALLS.c.id).limit(bindparam("batch")))


_FIRST_BATCH, _NEXT_BATCH = _batch(after_last=False), _batch(after_last=True)


def _report_call(row) -> ReportCall:
    call_id, started_at, duration, talk_time, reviewed, sales_status, journal, recording_state, file_path = \
        row[:_FIRST_FACT]
    return ReportCall(
        call_id=str(call_id), start_time=started_at, duration=duration, talk_time=talk_time,
        recorded=recording_state == "available" and bool(file_path), reviewed=bool(reviewed),
        sales_status=sales_status, journal=journal, record=recording_state is not None,
        **dict(zip(STORED_FACTS, row[_FIRST_FACT:], strict=True)),
    )


# The Database, not a session: a long report reads in batches, each its own short transaction.
def iter_calls(database, code: str, start: Optional[datetime], end: Optional[datetime], *,
               batch_size: int = BATCH_SIZE) -> Iterator[ReportCall]:
    """The calls of one client code in [start, end], by start time, lazily, in batches.

    Each batch is one short read (``database.read_unit()``), closed before any call of it is
    yielded, so the consumer may take as long as it likes between calls.
    """
    params = {"did": did_for_code(code), "since": start or _EARLIEST,
              "until": end + timedelta(seconds=1) if end is not None else _LATEST, "batch": max(1, int(batch_size))}
    statement = _FIRST_BATCH
    while True:
        with database.read_unit() as unit:
            rows = statement.all(unit, params)
        for row in rows:
            yield _report_call(row)
        if len(rows) < params["batch"]:
            return
        statement = _NEXT_BATCH
        params.update(last_started=rows[-1][1], last_id=rows[-1][0])


# --------------------------------------------------------------------------- recordings


@dataclass(frozen=True)
class RecordingFile:
    call_id: int
    reference: str
    file_path: str  # relative to the recording store
    available_at: Optional[datetime]


def recording_for_partner(session: Session, partner: Partner, call_id: str) -> RecordingFile:
    """The recording of a call (the seed's Event_CallRecordingURL ``id``), if the partner
    may read the call's client code. NotFound for no such call or no available audio;
    ClientCodeNotGranted for a call of a client code not granted to the partner."""
    text = (call_id or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound("no such call")
    row = session.execute(
        select(Call.id, Call.did, Recording.reference, Recording.state, Recording.file_path,
               Recording.available_at)
        .select_from(Call).outerjoin(Recording, Recording.call_id == Call.id)
        .where(Call.id == int(text))).first()
    if row is None:
        raise NotFound("no such call")
    found_id, did, reference, state, file_path, available_at = row
    code = code_for_did(did)
    if code is None or not is_granted(session, partner, code):
        raise ClientCodeNotGranted(f"user {partner.username} is not authorized for this call's client code")
    if state != "available" or not file_path:
        raise NotFound("the call has no recording")
    return RecordingFile(call_id=found_id, reference=reference, file_path=file_path, available_at=available_at)
