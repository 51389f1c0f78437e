"""The seed's wire forms of the callback service, shared by its SOAP and REST bindings."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from services.core import callbacks
from services.core.slots import Slot

TIMESLOT_FORMAT = "%Y-%m-%d %H-%M-%S"  # the seed's TimeFrom/TimeTo: hyphens in the time
REQUEST_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # the seed's request dates, in the company's zone


def caller(system, company: Optional[int], password: Optional[str], address: Optional[str]) -> callbacks.Caller:
    """The authenticated (or refused) caller; call it before opening a write session."""
    return callbacks.authenticate(system.database, callbacks.Credentials(company, password, address),
                                  system.throttle)


def telephony_available(system) -> bool:
    """Result code 2 when no switch can place the calls (switch = "none")."""
    return system.switch is not None


def time_slot(slot: Slot) -> dict:
    """A TimeSlot in the seed's field order and renderings; offered slots are available."""
    return {"TimeSlotID": slot.timeslot_id, "TimeTo": slot.end.strftime(TIMESLOT_FORMAT),
            "TimeFrom": slot.start.strftime(TIMESLOT_FORMAT), "Available": True}


def response_message(response: callbacks.Response) -> dict:
    return {"ConfirmationCode": response.confirmation_code, "ResultCode": int(response.result_code)}


def parse_request_date(text: str) -> datetime:
    """`yyyy-MM-dd HH:mm:ss` (a bare date is midnight): naive, the company's wall time."""
    value = str(text).strip()
    for pattern in (REQUEST_DATE_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date in the form yyyy-MM-dd HH:mm:ss")
