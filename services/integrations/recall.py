"""Recall's CRM integration routes (seed 003) on the ledger's events: how each route spells
the call details record, and the subscribers that queue and write it.

- Integration by URL and by CRM web service: when a recorded call has ended and its audio
  is in the store (CallEnded / RecordingReady, whichever comes last), one outbox entry per
  configured route is written in that same transaction, keyed by the recording, so a
  repeated event queues nothing more. The outbox worker delivers them (crm.py).
- Integration by text files: text_files.py, after the commit, by the process that made it
  (the data folder is shared).

One in-transaction subscriber asks the call's company's routes once per event (one
prepared statement; most companies have none) and hands the event to the routes it has.
"""
from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from services.core import crm, events
from services.core.outbox import enqueue
from services.recording.wire import format_recall_datetime
from storage.units import UnitOfWork

# Text files: one line, the columns in this order (README "Integration by text files").
TEXT_COLUMNS = ("date_time", "extension", "call_type", "calling_number", "dialled_number", "duration",
                "audio_file", "reference")
SEPARATOR_CHARACTERS = {"comma": ",", "tab": "\t"}


def wire_record(record: crm.CallRecord, zone: str) -> dict[str, Any]:
    """The record as every route forwards it: crm.RECORD_FIELDS, the date and time in the
    seed's 'yyyy-MM-dd HH:mm:ss' in the server's zone, the duration in whole seconds."""
    return {"call_id": record.call_id, "reference": record.reference,
            "date_time": format_recall_datetime(record.started_at, zone),
            "dialled_number": record.dialled_number, "calling_number": record.calling_number,
            "phone_number": record.phone_number, "extension": record.extension, "call_type": record.call_type,
            "duration": record.duration, "audio_file": record.audio_file}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def render_url(template: str, fields: dict[str, Any]) -> str:
    """Each placeholder replaced by its value percent-encoded with nothing left safe, so a
    value can add no parameter, fragment, header (CR/LF) or host (crm.check_url_template
    keeps placeholders out of the host)."""
    out = template
    for placeholder, field in crm.PLACEHOLDERS.items():
        out = out.replace(placeholder, quote(_text(fields[field]), safe=""))
    return out


def text_line(fields: dict[str, Any], separator: str = "comma") -> str:
    """One CRLF-terminated line in TEXT_COLUMNS order. A value holding the separator, a
    double quote or a line break is enclosed in double quotes, inner quotes doubled (RFC 4180)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=SEPARATOR_CHARACTERS[separator], quotechar='"', quoting=csv.QUOTE_MINIMAL,
               lineterminator="\r\n").writerow([_text(fields[column]) for column in TEXT_COLUMNS])
    return buffer.getvalue()


class CrmNotices:
    """In-transaction subscriber: queues the URL and web-service notices of a complete call."""

    def __init__(self, store, zone: str) -> None:
        self.store = store
        self.zone = zone

    def queue(self, unit: UnitOfWork, call_id: int) -> None:
        """The notices of call `call_id` (whose company has a CRM route), if it is complete:
        prepared statements only, so a call's end runs in a statement unit."""
        notice = crm.notice_due(unit, call_id, self.store)
        if notice is None:
            return
        fields = wire_record(notice.record, self.zone)
        if notice.url_template:
            enqueue(unit, "crm_url", render_url(notice.url_template, fields), {"record": fields},
                    company_id=notice.company_id, idempotency_key=f"crm_url-recording-{notice.recording_id}")
        if notice.web_service:
            service = notice.web_service
            enqueue(unit, "crm_web_service", service.get("wsdl") or service.get("url"),
                    {"record": fields, "service": service}, company_id=notice.company_id,
                    idempotency_key=f"crm_web_service-recording-{notice.recording_id}")


# A CRM gets a call's record once it is complete; a text file shows it from its answer on.
_COMPLETING = (events.CallEnded, events.RecordingReady)


def register(system) -> None:
    """Called once from System: the Recall routes follow the ledger's events."""
    zone = system.settings.timezone
    notices = CrmNotices(system.store, zone)
    from .text_files import TextFiles  # it renders with this module's text_line

    text_files = TextFiles(system.database, system.store, zone, system.settings.data_dir)

    def on_call_event(session, event) -> None:
        routes = crm.routes_of_call(session, event.call_id)
        if routes is None:
            return
        if routes.crm and isinstance(event, _COMPLETING):
            notices.queue(session, event.call_id)
        if routes.extension and routes.text_files_dir:
            events.after_commit(session, lambda: text_files.write(event.call_id))

    for event_type in (events.CallAnswered, *_COMPLETING):
        system.events.subscribe(event_type, on_call_event)
