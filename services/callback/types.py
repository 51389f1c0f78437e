"""Spyne types of the Buzzeasy Request Callback Service, named and shaped as
xsd/callback.xsd (tests/contracts/test_drift.py checks that they agree)."""
from spyne import Array, Boolean, ComplexModel, Integer32, Unicode

from services.soap.types import required

TNS = "urn:callsuite:callback:1"


class ResponseMessage(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("ConfirmationCode", required(Unicode)),
        ("ResultCode", required(Integer32)),
    ]


class TimeSlot(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("TimeSlotID", required(Integer32)),
        ("TimeTo", required(Unicode)),
        ("TimeFrom", required(Unicode)),
        ("Available", required(Boolean)),
    ]


ArrayOfTimeSlot = Array(TimeSlot.customize(nillable=False), type_name="ArrayOfTimeSlot").customize(
    min_occurs=1, nillable=False)
