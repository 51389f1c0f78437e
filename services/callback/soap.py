"""The Request Callback Service over SOAP 1.1/1.2 and generic GET: a thin translation to
services/core/callbacks.py."""
from __future__ import annotations

from spyne import Boolean, DateTime, Integer32, ServiceBase, Unicode, rpc

from services.core import callbacks
from services.soap.access import BODY_CREDENTIALS
from services.soap.faults import soap_operation
from services.soap.types import optional, required

from . import wire
from .types import ArrayOfTimeSlot, ResponseMessage, TimeSlot

FIELD_TYPES = tuple(optional(Unicode) for _ in callbacks.FIELDS)


def _address(ctx):
    return (getattr(ctx.transport, "req_env", None) or {}).get("REMOTE_ADDR")


def _response(response: callbacks.Response) -> ResponseMessage:
    return ResponseMessage(**wire.response_message(response))


def _slots(slots) -> list:
    return [TimeSlot(**wire.time_slot(slot)) for slot in slots]


class RequestCallbackService(ServiceBase):
    @rpc(required(Unicode), required(Unicode), required(Integer32), required(Integer32), required(Unicode),
         optional(Unicode), *FIELD_TYPES,
         _args=("name", "phoneNo", "serviceQueue", "company", "password", "region", *callbacks.FIELDS),
         _returns=required(ResponseMessage))
    @soap_operation(access=BODY_CREDENTIALS)
    def RequestCallWhenAvailable(ctx, name, phoneNo, serviceQueue, company, password, region, *fields):
        system = ctx.udc
        request = callbacks.NewRequest(name, phoneNo, serviceQueue, region, dict(zip(callbacks.FIELDS, fields, strict=True)))
        caller = wire.caller(system, company, password, _address(ctx))
        with system.database.unit() as unit:
            return _response(callbacks.request_call_when_available(
                unit, caller, request,
                telephony_available=wire.telephony_available(system)))

    @rpc(required(Integer32), required(Integer32), required(Unicode), required(DateTime),
         _args=("serviceQueue", "company", "password", "requestedDate"), _returns=ArrayOfTimeSlot)
    @soap_operation(access=BODY_CREDENTIALS)
    def GetAvailableTimes(ctx, serviceQueue, company, password, requestedDate):
        system = ctx.udc
        caller = wire.caller(system, company, password, _address(ctx))
        with system.database.read_unit() as unit:
            return _slots(callbacks.available_times(unit, caller, serviceQueue, requestedDate))

    @rpc(required(Integer32), required(DateTime), required(Integer32), required(Unicode),
         _args=("serviceQueue", "time", "company", "password"), _returns=ArrayOfTimeSlot)
    @soap_operation(access=BODY_CREDENTIALS)
    def GetNextThreeTimeSlots(ctx, serviceQueue, time, company, password):
        system = ctx.udc
        caller = wire.caller(system, company, password, _address(ctx))
        with system.database.read_unit() as unit:
            return _slots(callbacks.next_three_time_slots(unit, caller, serviceQueue, time))

    @rpc(required(Integer32), required(Integer32), required(Integer32), required(Unicode),
         _args=("serviceQueue", "ewt", "company", "password"), _returns=required(Boolean))
    @soap_operation(access=BODY_CREDENTIALS)
    def UpdateEWTRecord(ctx, serviceQueue, ewt, company, password):
        system = ctx.udc
        caller = wire.caller(system, company, password, _address(ctx))
        with system.database.unit() as unit:
            return callbacks.update_ewt(unit, caller, serviceQueue, ewt)

    @rpc(required(Integer32), required(Integer32), required(Unicode),
         _args=("serviceQueueID", "companyID", "password"), _returns=required(Integer32))
    @soap_operation(access=BODY_CREDENTIALS)
    def GetEWTByServiceID(ctx, serviceQueueID, companyID, password):
        system = ctx.udc
        caller = wire.caller(system, companyID, password, _address(ctx))
        with system.database.read_unit() as unit:
            return callbacks.ewt_of(unit, caller, serviceQueueID)

    @rpc(required(Unicode), required(Unicode), required(Integer32), required(DateTime), required(Integer32),
         required(Integer32), required(Unicode), optional(Unicode), *FIELD_TYPES,
         _args=("name", "phoneNo", "timeslot", "date", "serviceQueue", "company", "password", "region",
                *callbacks.FIELDS),
         _returns=required(ResponseMessage))
    @soap_operation(access=BODY_CREDENTIALS)
    def RequestCallSchedule(ctx, name, phoneNo, timeslot, date, serviceQueue, company, password, region, *fields):
        system = ctx.udc
        request = callbacks.NewRequest(name, phoneNo, serviceQueue, region, dict(zip(callbacks.FIELDS, fields, strict=True)))
        caller = wire.caller(system, company, password, _address(ctx))
        with system.database.session() as session:
            return _response(callbacks.request_call_schedule(
                session, caller, request, timeslot_id=timeslot,
                when=date, telephony_available=wire.telephony_available(system)))
