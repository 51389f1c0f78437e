"""Recall's CRM integration routes (seed 003) on the ledger's events: how each route spells
the call details record, and the subscribers that queue and write it.

- Integration by URL and by CRM web service: when a recorded call has ended and its audio
  is in the store (CallEnded / RecordingReady, whichever comes last), one outbox entry per
  configured route is written in that same transaction, keyed by the recording, so a
  repeated event queues nothing more. The outbox worker delivers them (crm.py).
- Integration by text files: text_files.py, after each commit.
"""
from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from services.core import crm, events
from services.core.outbox import enqueue
from services.recording.wire import format_recall_datetime
from storage.models import Call

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

    def on_call_event(self, session: Session, event) -> None:
        routes = crm.routes_of_call(session, event.call_id)
        if routes is None or not routes.crm:
            return
        call = session.get(Call, event.call_id)
        if call is None:
            return
        # The call's end and its audio may be committed by two transactions at once (two
        # servers): read both afresh, so the later of the two sees the other's change.
        session.flush()
        session.refresh(call)
        if call.recording is not None:
            session.refresh(call.recording)
        company = crm.notice_due(session, call)
        if company is None:
            return
        fields = wire_record(crm.call_record(session, call, self.store, company), self.zone)
        recording_id = call.recording.id
        if company.crm_url_template:
            enqueue(session, "crm_url", render_url(company.crm_url_template, fields), {"record": fields},
                    company_id=company.id, idempotency_key=f"crm_url-recording-{recording_id}")
        if company.crm_web_service:
            service = company.crm_web_service
            enqueue(session, "crm_web_service", service.get("wsdl") or service.get("url"),
                    {"record": fields, "service": service}, company_id=company.id,
                    idempotency_key=f"crm_web_service-recording-{recording_id}")


def register(system) -> None:
    """Called once from System: the Recall routes follow the ledger's events."""
    zone = system.settings.timezone
    notices = CrmNotices(system.store, zone)
    system.events.subscribe(events.CallEnded, notices.on_call_event)
    system.events.subscribe(events.RecordingReady, notices.on_call_event)
    from .text_files import TextFiles  # it renders with this module's text_line

    text_files = TextFiles(system.database, system.store, zone, system.settings.data_dir)
    for event_type in (events.CallAnswered, events.CallEnded, events.RecordingReady):
        system.events.on_commit(event_type, text_files.on_call_event)
