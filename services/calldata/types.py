"""Spyne types of the call-data service, named and shaped as xsd/calldata.xsd
(tests/contracts/test_drift.py checks that they agree)."""
from spyne import Array, ComplexModel, DateTime, Integer32, Unicode

from services.soap.types import optional, required

TNS = "urn:callsuite:calldata:1"


class Address(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("FirstName", required(Unicode)),
        ("MiddleInitial", required(Unicode)),
        ("LastName", required(Unicode)),
        ("StreetAddress", required(Unicode)),
        ("SecondaryAddress", required(Unicode)),
        ("City", required(Unicode)),
        ("State", required(Unicode)),
        ("ZIP", required(Unicode)),
        ("ZIP4", required(Unicode)),
    ]


class Call(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("ID", required(Unicode)),
        ("StartTime", required(DateTime)),
        ("Campaign", optional(Unicode)),
        ("DID", optional(Unicode)),
        ("ANI", optional(Unicode)),
        ("OtherData", optional(Unicode)),
        ("InfoDigits", optional(Unicode)),
        ("Target", optional(Unicode)),
        ("Result", optional(Unicode)),
        ("Duration", optional(Integer32)),
        ("TalkTime", optional(Integer32)),
        ("IndexNumber", optional(Unicode)),
        ("VoiceDirectory", optional(Unicode)),
        ("Address", optional(Address)),
        ("ReviewedStatus", optional(Unicode)),
        ("DTMF", optional(Unicode)),
        ("SalesStatus", optional(Unicode)),
        ("Journal", optional(Unicode)),
    ]


class Client(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("ClientCode", required(Unicode)),
        ("Calls", Array(Call.customize(nillable=False), type_name="ArrayOfCall").customize(min_occurs=1, nillable=False)),
    ]


class CallDetailsReport(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("Username", required(Unicode)),
        ("ClientAddress", required(Unicode)),
        ("Clients", Array(Client.customize(nillable=False), type_name="ArrayOfClient").customize(min_occurs=1, nillable=False)),
    ]
