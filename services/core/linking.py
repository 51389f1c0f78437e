"""blueButler activity links (seed 000): a BMS activity record linked to a recording,
at once (the active call on the user's extension) or later by a person in the console."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple, Optional, Sequence
from urllib.parse import quote

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from storage.models import ActivityLink, Call, Company, Extension, Recording, Workstation
from storage.statements import Prepared
from storage.units import UnitOfWork

from . import events, ledger
from .errors import Conflict, InvalidInput, NotFound
from .outbox import enqueue
from .vocabulary import LinkOutcome

MAX_FIELD = 1000


@dataclass(frozen=True)
class AddLinkRequest:
    activity_id: str
    bms_type: Optional[str] = None
    data: Sequence[Optional[str]] = (None, None, None, None, None)
    host: Optional[str] = None
    client_address: Optional[str] = None
    active_call: bool = False

    def __post_init__(self) -> None:
        if not self.activity_id or not self.activity_id.strip():
            raise InvalidInput("id (the BMS activity id) is required")
        if len(self.activity_id) > 200:
            raise InvalidInput("id is longer than 200 characters")
        if len(self.data) != 5:
            raise InvalidInput("data1..data5 expected")
        for name, value in [("id", self.activity_id), ("type", self.bms_type), ("host", self.host),
                            *zip(("data1", "data2", "data3", "data4", "data5"), self.data, strict=True)]:
            if value is not None and len(value) > MAX_FIELD:
                raise InvalidInput(f"{name} is longer than {MAX_FIELD} characters")
            if value is not None and "\x00" in value:  # no text column holds one (PostgreSQL refuses it)
                raise InvalidInput(f"{name} holds a NUL character")


def parse_bool(value: Optional[str], name: str) -> bool:
    """The seed's TRUE/FALSE, case-insensitively; absent or empty is FALSE."""
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidInput(f"{name} must be true or false")


# AddLink's hot path runs two statements: one SELECT of the workstation's extension and its
# active call's recording, one INSERT ... RETURNING. Prepared once from the tables' columns
# (storage.statements: compiled once, run on the driver's cursor), only their parameters vary.
_STATIONS, _RECORDINGS, _LINKS = Workstation.__table__, Recording.__table__, ActivityLink.__table__


class Station(NamedTuple):
    extension: Optional[str]
    recording_id: Optional[int]  # None without a recorded call in progress there
    reference: Optional[str]


def _station_lookup(where) -> Prepared:
    return Prepared(select(_STATIONS.c.extension, _RECORDINGS.c.id.label("recording_id"), _RECORDINGS.c.reference)
                    .select_from(_STATIONS.outerjoin(
                        _RECORDINGS, _RECORDINGS.c.call_id == ledger.answered_call_on(_STATIONS.c.extension)))
                    .where(where).limit(1))


_STATION_BY_HOST = _station_lookup(func.lower(_STATIONS.c.host) == bindparam("host"))
_STATION_BY_ADDRESS = _station_lookup(_STATIONS.c.address == bindparam("address"))
_LINK_COLUMNS = ("activity_id", "bms_type", "data1", "data2", "data3", "data4", "data5", "host", "extension",
                 "requested_at", "state", "recording_id", "linked_at", "linked_by")
_INSERT_LINK = Prepared(insert(_LINKS).values({name: bindparam(name, type_=_LINKS.c[name].type)
                                               for name in _LINK_COLUMNS}).returning(_LINKS.c.id))


def workstation(session: UnitOfWork, host: Optional[str], client_address: Optional[str]) -> Optional[Station]:
    """The workstation named by host (a host name or an IP address), or, without host, the
    workstation at the request's client address; None if there is none."""
    row = None
    if host:
        row = _STATION_BY_HOST.first(session, {"host": host.strip().lower()})
        if row is None and _is_ip(host):
            row = _STATION_BY_ADDRESS.first(session, {"address": host.strip()})
    elif client_address:
        row = _STATION_BY_ADDRESS.first(session, {"address": client_address})
    return None if row is None else Station(*row)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
        return True
    except ValueError:
        return False


def add_link(session: UnitOfWork, request: AddLinkRequest,
             now: Optional[datetime] = None) -> tuple[LinkOutcome, Optional[str]]:
    """The outcome and, when linked, the recording's reference number."""
    now = now or datetime.now(timezone.utc)
    station = workstation(session, request.host, request.client_address)
    extension = station.extension if station is not None else None
    link = dict(activity_id=request.activity_id, bms_type=request.bms_type,
                data1=request.data[0], data2=request.data[1], data3=request.data[2],
                data4=request.data[3], data5=request.data[4],
                host=request.host or request.client_address, extension=extension,
                requested_at=now, state="pending", recording_id=None, linked_at=None, linked_by=None)
    if not (request.active_call and extension and station.recording_id is not None):
        _INSERT_LINK.run(session, link)
        return (LinkOutcome.NO_ACTIVE_CALL if request.active_call else LinkOutcome.PENDING), None
    (link_id,) = _INSERT_LINK.first(session, {**link, "state": "linked", "recording_id": station.recording_id,
                                              "linked_at": now, "linked_by": "AddLink"})
    events.publish(session, events.LinkMade(link_id=link_id, recording_id=station.recording_id,
                                           activity_id=request.activity_id))
    return LinkOutcome.LINKED, station.reference


def link_recording(session: Session, activity_id: str, reference: str, *, linked_by: str,
                   now: Optional[datetime] = None) -> ActivityLink:
    """A person links a pending activity to a recording; the BMS is told through the outbox."""
    now = now or datetime.now(timezone.utc)
    recording = ledger.recording_by_reference(session, reference)
    if recording is None:
        raise NotFound(f"no recording with reference number {reference!r}")
    links = session.scalars(select(ActivityLink).where(ActivityLink.activity_id == activity_id)
                            .order_by(ActivityLink.requested_at.desc(), ActivityLink.id.desc())).all()
    if not links:
        raise NotFound(f"no activity {activity_id!r} was sent with AddLink")
    for link in links:
        if link.state == "linked" and link.recording_id == recording.id:
            return link  # linking twice to the same recording is harmless
    pending = [link for link in links if link.state == "pending"]
    if not pending:
        raise Conflict(f"activity {activity_id!r} is already linked to recording "
                       f"{links[0].recording.reference if links[0].recording else '?'}")
    link = pending[0]
    link.state = "linked"
    link.recording = recording
    link.linked_at = now
    link.linked_by = linked_by
    company = _company_for(session, link, recording)
    if company is not None and company.bms_notify_url:
        enqueue(session, "bms_link", render_bms_url(company.bms_notify_url, link, reference),
                {"activity_id": activity_id, "reference": reference}, now=now, company_id=company.id)
    session.flush()
    events.publish(session, events.LinkMade(link_id=link.id, recording_id=recording.id, activity_id=activity_id))
    return link


def _company_for(session: Session, link: ActivityLink, recording: Recording) -> Optional[Company]:
    for number in (link.extension, recording.call.extension if recording.call else None):
        if number:
            extension = session.get(Extension, number)
            if extension is not None and extension.company_id is not None:
                return session.get(Company, extension.company_id)
    return None


def render_bms_url(template: str, link: ActivityLink, reference: str) -> str:
    values = {"activity_id": link.activity_id, "ref": reference, "type": link.bms_type or "",
              "host": link.host or "", **{f"data{i}": getattr(link, f"data{i}") or "" for i in range(1, 6)}}
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", quote(value, safe=""))
    return out


def candidate_recordings(session: Session, link: ActivityLink, *, window: timedelta = timedelta(days=1),
                         limit: int = 20) -> list[Recording]:
    """Recordings of the link's extension in the day before it was requested, newest first."""
    if not link.extension:
        return []
    return list(session.scalars(
        select(Recording).join(Call, Recording.call_id == Call.id)
        .where(Call.extension == link.extension, Recording.state == "available",
               Call.started_at <= link.requested_at + timedelta(minutes=5),
               Call.started_at >= link.requested_at - window)
        .order_by(Call.started_at.desc()).limit(limit)))
