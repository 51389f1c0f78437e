"""Spyne types of BuzzMeInfo, named and shaped as xsd/info.xsd (checked by
tests/contracts/test_drift.py). The two shapes differ, as the seed has them."""
from spyne import ComplexModel, Integer32, Unicode

from services.soap.types import optional, required

TNS = "urn:callsuite:info:1"
_FIELDS = [(f"field{i}", optional(Unicode)) for i in range(1, 11)]


class CallData(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("CustomerName", optional(Unicode)),
        ("UserPhoneNo", required(Unicode)),
        ("serviceQueueName", required(Unicode)),
        ("Retries", required(Integer32)),
        *_FIELDS,
        ("ConfirmationCode", required(Unicode)),
        ("ScheduledTime", required(Unicode)),
    ]


class PinCallData(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("CustomerName", optional(Unicode)),
        ("UserPhoneNo", required(Unicode)),
        ("serviceQueue", required(Integer32)),
        ("Retries", required(Integer32)),
        *_FIELDS,
        ("ConfirmationCode", required(Unicode)),
        ("TimeCalled", required(Unicode)),
    ]
