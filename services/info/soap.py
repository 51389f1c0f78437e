"""BuzzMeInfo over SOAP 1.1/1.2 and generic GET: a thin translation to the core."""
from __future__ import annotations

from spyne import Integer32, ServiceBase, Unicode, rpc

from services.core import callbacks
from services.soap.access import BODY_CREDENTIALS
from services.soap.faults import soap_operation
from services.soap.types import optional, required

from . import wire
from .types import CallData, PinCallData


def _caller(ctx, company, password) -> callbacks.Caller:
    return wire.caller(ctx.udc, company, password, (getattr(ctx.transport, "req_env", None) or {}).get("REMOTE_ADDR"))


class BuzzMeInfo(ServiceBase):
    @rpc(required(Unicode), required(Integer32), required(Unicode),
         _args=("presentedNumber", "companyId", "password"), _returns=optional(CallData))
    @soap_operation(access=BODY_CREDENTIALS)
    def GetCallDataByNumber(ctx, presentedNumber, companyId, password):
        caller = _caller(ctx, companyId, password)
        with ctx.udc.database.read_unit() as unit:
            answer = wire.without_nulls(wire.by_number(callbacks.call_data_by_number(
                unit, caller, presentedNumber)))
            return None if answer is None else CallData(**answer)

    @rpc(required(Unicode), required(Integer32), required(Unicode),
         _args=("pin", "companyId", "password"), _returns=optional(PinCallData))
    @soap_operation(access=BODY_CREDENTIALS)
    def GetCallDataByPin(ctx, pin, companyId, password):
        caller = _caller(ctx, companyId, password)
        with ctx.udc.database.read_unit() as unit:
            answer = wire.without_nulls(wire.by_pin(callbacks.call_data_by_pin(unit, caller, pin)))
            return None if answer is None else PinCallData(**answer)
