"""Plain values for the templates, times in the viewer's zone."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from storage.models import ActivityLink, Call, CallbackRequest, Recording

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_time(value: Optional[datetime], zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone).strftime(TIME_FORMAT)


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def link_view(link: ActivityLink, zone: ZoneInfo) -> dict[str, Any]:
    return {"id": link.id, "activity_id": link.activity_id, "type": link.bms_type or "",
            "data": [getattr(link, f"data{i}") or "" for i in range(1, 6)],
            "host": link.host or "", "extension": link.extension or "",
            "requested": local_time(link.requested_at, zone)}


def linked_view(link: ActivityLink, zone: ZoneInfo) -> dict[str, Any]:
    return {**link_view(link, zone), "reference": link.recording.reference if link.recording else "",
            "linked_at": local_time(link.linked_at, zone), "linked_by": link.linked_by or ""}


def recording_view(recording: Recording, zone: ZoneInfo) -> dict[str, Any]:
    call = recording.call
    return {"reference": recording.reference, "time": local_time(call.started_at, zone),
            "calling": call.ani or "", "called": call.did or call.target or "",
            "duration": duration(recording.duration_s if recording.duration_s is not None else call.duration_s)}


def call_row(call: Call, zone: ZoneInfo) -> dict[str, Any]:
    recording = call.recording
    return {"id": call.id, "time": local_time(call.started_at, zone), "direction": call.direction,
            "extension": call.extension or "", "calling": call.ani or "",
            "called": call.did or call.target or "", "state": call.state,
            "duration": duration(call.duration_s), "result": call.result or "",
            "reference": recording.reference if recording else "",
            "playable": recording is not None and recording.state == "available"}


def call_details(call: Call, zone: ZoneInfo) -> dict[str, Any]:
    recording = call.recording
    return {"id": call.id, "time": local_time(call.started_at, zone), "answered": local_time(call.answered_at, zone),
            "ended": local_time(call.ended_at, zone), "direction": call.direction, "extension": call.extension or "",
            "calling": call.ani or "", "called": call.did or "", "target": call.target or "",
            "state": call.state, "result": call.result or "", "duration": duration(call.duration_s),
            "talk_time": duration(call.talk_time_s), "dtmf": call.dtmf or "",
            "reference": recording.reference if recording else "",
            "recording_state": recording.state if recording else "",
            "playable": recording is not None and recording.state == "available" and bool(recording.file_path),
            "protected": bool(recording and recording.deletion_protected),
            "reviewed": bool(call.reviewed), "sales_status": call.sales_status or "",
            "journal": call.journal or ""}


def callback_view(request: CallbackRequest, queues: dict[int, str], zone: ZoneInfo) -> dict[str, Any]:
    latest = request.events[-1] if request.events else None
    return {"requested": local_time(request.requested_at, zone), "code": request.confirmation_code,
            "name": request.name or "", "phone": request.phone_e164,
            "queue": queues.get(request.queue_id, str(request.queue_id)),
            "when": "ASAP" if request.asap else local_time(request.scheduled_for, zone),
            "state": request.state, "status": latest.status if latest else "",
            "status_at": local_time(latest.at, zone) if latest else ""}
