"""Opening hours and time slots of a service queue, in the company's time zone.

Opening hours are a map of weekdays to one span: `{"mon-fri": "08:00-18:00", "sat":
"09:00-12:00"}` (ranges like `mon-fri`, lists like `mon,wed`, single days; `HH:MM` or
`HH:MM:SS`). A day's slots run from its opening time in steps of the queue's slot length,
the last one ending at or before closing. TimeSlotID is the 1-based index of the slot in
its day (CONTRACTS §3: opening 08:00, 30-minute slots, 09:30-10:00 is 4). Holidays
(`YYYY-MM-DD`) have no slots and are out of hours all day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterator, Mapping, Optional
from zoneinfo import ZoneInfo

from .errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Slot:
    timeslot_id: int
    start: datetime  # aware, in the company's zone
    end: datetime


def _time(text: str) -> time:
    try:
        parts = [int(p) for p in text.strip().split(":")]
        if len(parts) not in (2, 3):
            raise ValueError
        return time(*parts)
    except ValueError:
        raise InvalidInput(f"opening time {text!r} is not HH:MM or HH:MM:SS") from None


def _days(key: str) -> list[int]:
    found: list[int] = []
    for part in key.lower().split(","):
        part = part.strip()
        if "-" in part:
            first, last = (p.strip()[:3] for p in part.split("-", 1))
            if first not in DAYS or last not in DAYS:
                raise InvalidInput(f"unknown weekday range {part!r}")
            a, b = DAYS.index(first), DAYS.index(last)
            found.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part[:3] in DAYS:
            found.append(DAYS.index(part[:3]))
        else:
            raise InvalidInput(f"unknown weekday {part!r}")
    return found


def opening_by_weekday(opening_hours: Mapping[str, Any]) -> dict[int, tuple[time, time]]:
    """Weekday (0 = Monday) -> (opens, closes). Later keys override earlier ones."""
    table: dict[int, tuple[time, time]] = {}
    for key, span in (opening_hours or {}).items():
        if not isinstance(span, str) or "-" not in span:
            raise InvalidInput(f"opening hours {span!r} are not 'HH:MM-HH:MM'")
        opens, closes = (_time(p) for p in span.split("-", 1))
        if closes <= opens:
            raise InvalidInput(f"opening hours {span!r} close before they open")
        for day in _days(key):
            table[day] = (opens, closes)
    return table


class QueueCalendar:
    """The opening hours, holidays and slots of one queue, in one zone."""

    def __init__(self, opening_hours: Mapping[str, Any], holidays, slot_minutes: int, zone: str) -> None:
        if slot_minutes < 1:
            raise InvalidInput("slot_minutes must be at least 1")
        self.table = opening_by_weekday(opening_hours)
        self.holidays = {str(d) for d in holidays or ()}
        self.slot_length = timedelta(minutes=slot_minutes)
        self.zone = ZoneInfo(zone)

    @classmethod
    def of(cls, queue, company) -> "QueueCalendar":
        return cls(queue.opening_hours, queue.holidays, queue.slot_minutes, company.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def hours_on(self, day: date) -> Optional[tuple[datetime, datetime]]:
        if day.isoformat() in self.holidays or day.weekday() not in self.table:
            return None
        opens, closes = self.table[day.weekday()]
        return (datetime.combine(day, opens, self.zone), datetime.combine(day, closes, self.zone))

    def is_open(self, moment: datetime) -> bool:
        local = self.local(moment)
        hours = self.hours_on(local.date())
        return hours is not None and hours[0] <= local < hours[1]

    def slots_on(self, day: date) -> Iterator[Slot]:
        hours = self.hours_on(day)
        if hours is None:
            return
        start, index = hours[0], 1
        while start + self.slot_length <= hours[1]:
            # Wall-clock arithmetic in the zone (a DST change day keeps its local slots).
            yield Slot(index, start, start + self.slot_length)
            start, index = start + self.slot_length, index + 1

    def slot(self, day: date, timeslot_id: int) -> Optional[Slot]:
        for candidate in self.slots_on(day):
            if candidate.timeslot_id == timeslot_id:
                return candidate
        return None


def as_local(moment: datetime, zone: str) -> datetime:
    """A datetime from a SOAP client: naive means wall time in the company's zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(ZoneInfo(zone))
