"""BuzzMeInfo's two answer shapes and field renderings, exactly as the seed writes them
(CONTRACTS §3): by number, field1..field9 are `FieldName | FieldValue` and field10
`FieldName,FieldValue`, with serviceQueueName and ScheduledTime; by PIN, all ten are
`FieldName,FieldValue`, with serviceQueue (the id) and TimeCalled. A field without a value
is left out. Times are `yyyy-MM-dd HH:mm:ss` in the company's zone."""
from __future__ import annotations

from typing import Optional
from zoneinfo import ZoneInfo

from services.core import callbacks
from services.core.callbacks import FIELDS, CallData

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _fields(data: CallData, separator_for) -> dict:
    out = {}
    for name in FIELDS:
        label, value = data.field(name)
        if value is not None:
            out[name] = f"{label}{separator_for(name)}{value}"
    return out


def _local(data: CallData, moment) -> str:
    return moment.astimezone(ZoneInfo(data.zone)).strftime(TIME_FORMAT)


def by_number(data: Optional[CallData]) -> Optional[dict]:
    if data is None:
        return None
    r = data.request
    return {"CustomerName": r.name, "UserPhoneNo": r.phone_e164, "serviceQueueName": data.queue.name,
            "Retries": r.retries,
            **_fields(data, lambda name: "," if name == "field10" else " | "),
            "ConfirmationCode": r.confirmation_code,
            "ScheduledTime": _local(data, r.scheduled_for or r.requested_at)}


def by_pin(data: Optional[CallData]) -> Optional[dict]:
    if data is None:
        return None
    r = data.request
    return {"CustomerName": r.name, "UserPhoneNo": r.phone_e164, "serviceQueue": r.queue_id, "Retries": r.retries,
            **_fields(data, lambda name: ","), "ConfirmationCode": r.confirmation_code,
            "TimeCalled": _local(data, r.requested_at)}


def without_nulls(answer: Optional[dict]) -> Optional[dict]:
    return None if answer is None else {k: v for k, v in answer.items() if v is not None}


def caller(system, company: Optional[int], password: Optional[str], address: Optional[str]) -> callbacks.Caller:
    """The authenticated (or refused) caller; before any session is opened."""
    return callbacks.authenticate(system.database, callbacks.Credentials(company, password, address),
                                  system.throttle)
