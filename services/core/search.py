"""Recall's stored query (seed 003): recordings found by called or calling number, a
date-time range, extension and call type, combinable; newest first; a page at a time with
the total count. Each row is the call details record with the recording's path."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.models import Call, Company, Extension, Recording, User

from . import crm
from .errors import InvalidInput
from .phone import phone_variants

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class RecordingQuery:
    called_number: Optional[str] = None
    calling_number: Optional[str] = None
    start: Optional[datetime] = None  # calls that started at or after
    end: Optional[datetime] = None  # ... and at or before
    extension: Optional[str] = None
    call_type: Optional[str] = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.call_type is not None and self.call_type not in crm.CALL_TYPES:
            raise InvalidInput(f"call type must be one of {', '.join(crm.CALL_TYPES)}")
        if self.page < 1:
            raise InvalidInput("page numbers start at 1")
        if self.page_size < 1:
            raise InvalidInput("page size must be at least 1")
        if self.start and self.end and self.start > self.end:
            raise InvalidInput("the range ends before it starts")
        for name in ("called_number", "calling_number", "extension"):
            value = getattr(self, name)
            if value is not None and len(value) > 64:
                raise InvalidInput(f"{name} is longer than 64 characters")


@dataclass(frozen=True)
class SearchPage:
    total: int
    page: int
    page_size: int  # as used: capped at MAX_PAGE_SIZE
    records: list[crm.CallRecord]


def _number(column, number: str, regions: list[str]):
    """The forms the ledger may hold the number in, read as each region would read it."""
    return column.in_(sorted({form for region in regions for form in phone_variants(number, region)}))


def _far_party_is_extension():
    extensions = select(Extension.number)
    # coalesce: a withheld number (NULL) is not an extension, and NOT IN must say so, not NULL.
    return or_(and_(Call.direction == "inbound", func.coalesce(Call.ani, "").in_(extensions)),
               and_(Call.direction == "outbound", func.coalesce(Call.target, Call.did, "").in_(extensions)))


def search_recordings(session: Session, store, user: User, query: RecordingQuery, *,
                      default_region: str) -> SearchPage:
    """Only what `user` may listen to: everything with global listening rights, otherwise
    the recordings of the user's own extension. National numbers are read in the server's
    default region and in the regions of the user's company."""
    company = session.get(Company, user.company_id) if user.company_id is not None else None
    regions = [default_region, *((company.regions or []) if company is not None else [])]
    conditions = [Recording.state == "available"]
    if not user.global_listening:
        conditions.append(Call.extension == user.extension if user.extension else Call.id.is_(None))
    if query.called_number:
        conditions.append(or_(_number(Call.did, query.called_number, regions),
                              _number(Call.target, query.called_number, regions)))
    if query.calling_number:
        conditions.append(_number(Call.ani, query.calling_number, regions))
    if query.start is not None:
        conditions.append(Call.started_at >= query.start)
    if query.end is not None:
        conditions.append(Call.started_at <= query.end)
    if query.extension:
        conditions.append(Call.extension == query.extension)
    if query.call_type == "internal":
        conditions.append(_far_party_is_extension())
    elif query.call_type is not None:
        conditions.extend([Call.direction == query.call_type, not_(_far_party_is_extension())])
    base = select(Call).join(Recording, Recording.call_id == Call.id).where(*conditions)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    size = min(query.page_size, MAX_PAGE_SIZE)
    calls = session.scalars(base.options(selectinload(Call.recording))
                            .order_by(Call.started_at.desc(), Call.id.desc())
                            .offset((query.page - 1) * size).limit(size)).all()
    return SearchPage(total=total, page=query.page, page_size=size,
                      records=[crm.call_record(session, call, store) for call in calls])
