"""Spyne types of the recording service, named and shaped as xsd/recording.xsd
(tests/contracts checks that they agree)."""
from spyne import Array, Boolean, ComplexModel, DateTime, Double, Integer32, Long, Unicode

from services.soap.types import optional, required

TNS = "urn:callsuite:recording:1"


class ActivityLink(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("ActivityId", required(Unicode)),
        ("Type", optional(Unicode)),
        ("Data1", optional(Unicode)),
        ("Data2", optional(Unicode)),
        ("Data3", optional(Unicode)),
        ("Data4", optional(Unicode)),
        ("Data5", optional(Unicode)),
        ("Host", optional(Unicode)),
        ("State", required(Unicode)),
        ("RequestedAt", required(DateTime)),
        ("ReferenceNumber", optional(Unicode)),
        ("LinkedAt", optional(DateTime)),
    ]


class Gap(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("OffsetSeconds", required(Double)),
        ("LengthSeconds", required(Double)),
    ]


class RecordingInfo(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("ReferenceNumber", required(Unicode)),
        ("CallId", required(Long)),
        ("Direction", required(Unicode)),
        ("Extension", optional(Unicode)),
        ("CallingNumber", optional(Unicode)),
        ("CalledNumber", optional(Unicode)),
        ("StartTime", required(DateTime)),
        ("EndTime", optional(DateTime)),
        ("State", required(Unicode)),
        ("DurationSeconds", optional(Double)),
        ("DeletionProtected", required(Boolean)),
        ("Gaps", Array(Gap.customize(nillable=False), type_name="ArrayOfGap").customize(min_occurs=1, nillable=False)),
    ]


class CallRecord(ComplexModel):
    """Recall's record file row: the call details and the recording's path (seed 003)."""
    __namespace__ = TNS
    _type_info = [
        ("ReferenceNumber", required(Unicode)),
        ("CallDateTime", required(Unicode)),
        ("DialledNumber", required(Unicode)),
        ("CallingNumber", required(Unicode)),
        ("Extension", required(Unicode)),
        ("CallType", required(Unicode)),
        ("DurationSeconds", optional(Integer32)),  # absent while the call is in progress
        ("RecordingFile", required(Unicode)),
    ]


class RecordingSearchResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("TotalCount", required(Integer32)),
        ("Page", required(Integer32)),
        ("PageSize", required(Integer32)),
        ("Records", Array(CallRecord.customize(nillable=False), type_name="ArrayOfCallRecord")
         .customize(min_occurs=1, nillable=False)),
    ]
