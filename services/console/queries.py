"""What the console lists, a page at a time: pending activity links and calls, newest
first, with a total count and the user's search (activity id, phone number, date)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.models import ActivityLink, Call, CallbackRequest, Recording, ServiceQueue

PENDING_PER_PAGE = 20
CALLS_PER_PAGE = 50
MAX_SEARCH = 100


class BadSearch(ValueError):
    pass


@dataclass(frozen=True)
class Search:
    activity: str = ""
    phone: str = ""  # digits only
    day: Optional[date] = None  # a day in the viewer's zone

    @classmethod
    def from_args(cls, args) -> "Search":
        activity = args.get("activity", "").strip()[:MAX_SEARCH]
        phone = re.sub(r"[^0-9]", "", args.get("phone", ""))[:MAX_SEARCH]
        text = args.get("date", "").strip()
        try:
            day = date.fromisoformat(text) if text else None
        except ValueError:
            raise BadSearch("Dates are written YYYY-MM-DD.") from None
        return cls(activity, phone, day)

    def as_args(self) -> dict[str, str]:
        args = {"activity": self.activity, "phone": self.phone, "date": self.day.isoformat() if self.day else ""}
        return {k: v for k, v in args.items() if v}

    def day_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.day, time(), tzinfo=zone)
        end = datetime.combine(self.day + timedelta(days=1), time(), tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    number: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def previous(self) -> Optional[int]:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> Optional[int]:
        return self.number + 1 if self.number < self.pages else None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _paged(session: Session, query: Select, order: tuple, number: int, size: int) -> Page:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    items = list(session.scalars(query.order_by(*order).offset((number - 1) * size).limit(size)))
    return Page(items, total, number, size)


def pending_links(session: Session, scope: Optional[str], search: Search, zone: ZoneInfo, number: int,
                  size: int = PENDING_PER_PAGE) -> Page:
    query = select(ActivityLink).where(ActivityLink.state == "pending")
    if scope is not None:
        query = query.where(ActivityLink.extension == scope)
    if search.activity:
        query = query.where(ActivityLink.activity_id.like(_like(search.activity), escape="\\"))
    if search.day:
        start, end = search.day_bounds(zone)
        query = query.where(ActivityLink.requested_at >= start, ActivityLink.requested_at < end)
    return _paged(session, query, (ActivityLink.requested_at.desc(), ActivityLink.id.desc()), number, size)


def calls(session: Session, scope: Optional[str], search: Search, zone: ZoneInfo, number: int,
          size: int = CALLS_PER_PAGE) -> Page:
    query = select(Call).options(selectinload(Call.recording))
    if scope is not None:
        query = query.where(Call.extension == scope)
    if search.phone:
        pattern = _like(search.phone)
        query = query.where(or_(Call.ani.like(pattern, escape="\\"), Call.did.like(pattern, escape="\\"),
                                Call.target.like(pattern, escape="\\")))
    if search.day:
        start, end = search.day_bounds(zone)
        query = query.where(Call.started_at >= start, Call.started_at < end)
    if search.activity:
        linked = (select(Recording.call_id).join(ActivityLink, ActivityLink.recording_id == Recording.id)
                  .where(ActivityLink.activity_id.like(_like(search.activity), escape="\\")))
        query = query.where(Call.id.in_(linked))
    return _paged(session, query, (Call.started_at.desc(), Call.id.desc()), number, size)


def recently_linked(session: Session, scope: Optional[str], limit: int = 10) -> list[ActivityLink]:
    query = select(ActivityLink).where(ActivityLink.state == "linked")
    if scope is not None:
        query = query.where(ActivityLink.extension == scope)
    return list(session.scalars(query.order_by(ActivityLink.linked_at.desc()).limit(limit)))


def recent_callbacks(session: Session, company_id: Optional[int], global_listening: bool,
                     limit: int = 10) -> tuple[list[CallbackRequest], dict[int, str]]:
    """Callback requests of the user's company (all of them with global listening and no company)."""
    if company_id is None and not global_listening:
        return [], {}
    query = (select(CallbackRequest).options(selectinload(CallbackRequest.events))
             .order_by(CallbackRequest.requested_at.desc(), CallbackRequest.id.desc()).limit(limit))
    if company_id is not None:
        query = query.where(CallbackRequest.company_id == company_id)
    queues = {q.id: q.name for q in session.scalars(select(ServiceQueue))}
    return list(session.scalars(query)), queues
