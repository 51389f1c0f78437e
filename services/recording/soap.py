"""The recording service over SOAP 1.1/1.2 and GET/JSON: a thin translation to the core."""
from __future__ import annotations

from datetime import timedelta

from spyne import Boolean, Integer32, ServiceBase, Unicode, rpc

from services.core import ledger, linking, recordings, search
from services.core.errors import Forbidden
from services.soap.access import LISTENER, OPEN, caller, listener_or_networks
from services.soap.faults import soap_operation
from services.soap.types import optional, required

from . import playback
from .types import ActivityLink, CallRecord, Gap, RecordingInfo, RecordingSearchResult
from .wire import PLAYBACK, format_recall_datetime, link_answer, parse_recall_datetime


def _client_address(ctx) -> str | None:
    environ = getattr(ctx.transport, "req_env", None) or {}
    return environ.get("REMOTE_ADDR")


def activity_link(link) -> ActivityLink:
    return ActivityLink(
        ActivityId=link.activity_id, Type=link.bms_type, Data1=link.data1, Data2=link.data2,
        Data3=link.data3, Data4=link.data4, Data5=link.data5, Host=link.host, State=link.state,
        RequestedAt=link.requested_at, ReferenceNumber=link.recording.reference if link.recording else None,
        LinkedAt=link.linked_at)


def recording_info(recording: recordings.RecordingFacts) -> RecordingInfo:
    return RecordingInfo(
        ReferenceNumber=recording.reference, CallId=recording.call_id, Direction=recording.direction,
        Extension=recording.extension, CallingNumber=recording.ani, CalledNumber=recording.did or recording.target,
        StartTime=recording.started_at, EndTime=recording.ended_at, State=recording.state,
        DurationSeconds=recording.duration_s, DeletionProtected=recording.deletion_protected,
        Gaps=[Gap(OffsetSeconds=span["offset_s"], LengthSeconds=span["length_s"])
              for span in recording.paused_spans or [] if "offset_s" in span])


def call_record(record, zone: str) -> CallRecord:
    return CallRecord(
        ReferenceNumber=record.reference, CallDateTime=format_recall_datetime(record.started_at, zone),
        DialledNumber=record.dialled_number, CallingNumber=record.calling_number, Extension=record.extension,
        CallType=record.call_type, DurationSeconds=record.duration, RecordingFile=record.audio_file)


class RecordingService(ServiceBase):
    @rpc(required(Unicode), optional(Unicode), optional(Unicode), optional(Unicode), optional(Unicode),
         optional(Unicode), optional(Unicode), optional(Unicode), optional(Boolean),
         _args=("id", "type", "data1", "data2", "data3", "data4", "data5", "host", "activeCall"),
         _returns=Unicode(min_occurs=0, nillable=True))
    @soap_operation(access=OPEN)
    def AddLink(ctx, id, type, data1, data2, data3, data4, data5, host, activeCall):
        request = linking.AddLinkRequest(activity_id=id, bms_type=type, data=(data1, data2, data3, data4, data5),
                                         host=host, client_address=_client_address(ctx),
                                         active_call=bool(activeCall))
        with ctx.udc.database.unit() as unit:
            return link_answer(*linking.add_link(unit, request))

    @rpc(required(Unicode), required(Unicode), _args=("refNum", "phoneNumber"), _returns=required(Unicode))
    @soap_operation(access=LISTENER)
    def PlayByPhone(ctx, refNum, phoneNumber):
        return PLAYBACK[playback.play_by_phone(ctx.udc, caller(ctx), refNum, phoneNumber)]

    @rpc(required(Unicode), required(Unicode), _args=("activityId", "refNum"), _returns=required(ActivityLink))
    @soap_operation(access=LISTENER)
    def LinkRecording(ctx, activityId, refNum):
        with ctx.udc.database.session() as session:
            recording = ledger.recording_by_reference(session, refNum)
            if recording is not None and not recordings.may_listen(caller(ctx), recording):
                raise Forbidden("this user may not listen to that recording")
            return activity_link(linking.link_recording(session, activityId, refNum, linked_by="LinkRecording"))

    @rpc(required(Unicode), _args=("refNum",), _returns=required(RecordingInfo))
    @soap_operation(access=LISTENER)
    def GetRecordingInfo(ctx, refNum):
        with ctx.udc.database.read_unit() as unit:
            return recording_info(recordings.described_recording(unit, caller(ctx), refNum))

    @rpc(required(Unicode), optional(Unicode), required(Unicode), optional(Boolean),
         _args=("sExtension", "sPhoneNumber", "dtCallDateTime", "bDeletionProtected"), _returns=required(Unicode))
    @soap_operation(access=listener_or_networks("recall_allowed_networks"))
    def RetrieveRecFile(ctx, sExtension, sPhoneNumber, dtCallDateTime, bDeletionProtected):
        system = ctx.udc
        recordings.may_ask_for_extension(caller(ctx), sExtension)
        when = parse_recall_datetime(dtCallDateTime, system.settings.timezone)
        return recordings.retrieve_rec_file(
            system.database, system.store, extension=sExtension, when=when, phone=sPhoneNumber,
            protect=bool(bDeletionProtected), tolerance=timedelta(seconds=system.settings.recall_tolerance_s))

    @rpc(optional(Unicode), optional(Unicode), optional(Unicode), optional(Unicode), optional(Unicode),
         optional(Unicode), optional(Integer32), optional(Integer32),
         _args=("sCalledNumber", "sCallingNumber", "dtFrom", "dtTo", "sExtension", "sCallType", "iPage",
                "iPageSize"),
         _returns=required(RecordingSearchResult))
    @soap_operation(access=LISTENER)
    def SearchRecordings(ctx, sCalledNumber, sCallingNumber, dtFrom, dtTo, sExtension, sCallType, iPage,
                         iPageSize):
        system = ctx.udc
        user = caller(ctx)
        settings = system.settings
        query = search.RecordingQuery(
            called_number=sCalledNumber or None, calling_number=sCallingNumber or None,
            start=parse_recall_datetime(dtFrom, settings.timezone, "dtFrom") if dtFrom else None,
            end=parse_recall_datetime(dtTo, settings.timezone, "dtTo") if dtTo else None,
            extension=sExtension or None, call_type=sCallType or None, page=1 if iPage is None else iPage,
            page_size=search.DEFAULT_PAGE_SIZE if iPageSize is None else iPageSize)
        with system.database.read_session() as session:
            page = search.search_recordings(session, system.store, user, query,
                                            default_region=settings.default_region)
            return RecordingSearchResult(
                TotalCount=page.total, Page=page.page, PageSize=page.page_size,
                Records=[call_record(record, settings.timezone) for record in page.records])
