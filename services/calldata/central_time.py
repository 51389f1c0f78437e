"""US Central Time, as Callbutton (seed 002) writes its dates: ``MM/DD/YYYY HH:MM:SS``
(24 h), America/Chicago through ``zoneinfo``, daylight saving applied.

* Parsing a request date whose wall time occurs twice (the fall-back hour, e.g.
  11/01/2026 01:30:00) takes the FIRST occurrence, i.e. ``fold=0``: Central Daylight Time
  (UTC-5). So 11/01/2026 01:30:00 means 06:30 UTC, never 07:30 UTC.
* Parsing a request date whose wall time does not exist (the spring-forward gap, e.g.
  03/08/2026 02:30:00) is refused with "Date range not valid: ..." rather than silently
  shifted by an hour; the partner asked for an instant that never happened.
* Rendering (``to_central``) is unambiguous from UTC: 2026-11-01 06:30 UTC and 07:30 UTC
  both render "11/01/2026 01:30:00" (the first CDT, the second CST), as the seed's format
  has no offset. A naive datetime given to ``to_central`` is taken as UTC (the ledger
  stores UTC; SQLite hands back naive values).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from .refusal import ReportRequestError

CENTRAL = ZoneInfo("America/Chicago")
DATE_FORMAT = "%m/%d/%Y %H:%M:%S"


def parse_central(text: str, field: str) -> datetime:
    """``MM/DD/YYYY HH:MM:SS`` Central Time -> aware UTC (see the module docstring)."""
    try:
        naive = datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        raise ReportRequestError(f"Date range not valid: {field} {text!r} is not a valid date "
                                 f"(expected MM/DD/YYYY HH:MM:SS)") from None
    return from_central(naive, field, text)


def from_central(naive: datetime, field: str = "date", text: Optional[str] = None) -> datetime:
    """A US Central Time wall-clock time -> aware UTC, with the rules of the module
    docstring (the repeated fall-back hour is its first occurrence, a time in the
    spring-forward gap is refused). An aware datetime is simply converted. ``field`` and
    ``text`` (the value as the client wrote it) only shape the error message."""
    if naive.tzinfo is not None:
        return naive.astimezone(timezone.utc)
    shown = text if text is not None else naive.strftime(DATE_FORMAT)
    # fold=0: in the repeated fall-back hour take the first occurrence (CDT).
    local = naive.replace(tzinfo=CENTRAL, fold=0)
    try:
        utc = local.astimezone(timezone.utc)
        back = utc.astimezone(CENTRAL).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise ReportRequestError(f"Date range not valid: {field} {shown!r} is out of range") from None
    if back != naive:
        # The wall time falls in the spring-forward gap: it never happened in Central Time.
        raise ReportRequestError(f"Date range not valid: {field} {shown!r} does not exist in US Central "
                                 f"Time (clocks skip that hour when daylight saving time starts)")
    return utc


def to_central(dt_utc: datetime) -> str:
    """An instant rendered as the seed's ``MM/DD/YYYY HH:MM:SS`` (24 h), US Central Time."""
    if dt_utc.tzinfo is None:
        dt_utc = dt_utc.replace(tzinfo=timezone.utc)
    return dt_utc.astimezone(CENTRAL).strftime(DATE_FORMAT)
