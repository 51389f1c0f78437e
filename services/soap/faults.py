"""Domain errors become SOAP faults (and, over GET, JSON fault objects) at the edge."""
from __future__ import annotations

import functools
import logging

from spyne import Fault

from services.core import errors
from services.core.throttle import TooManyAttempts
from services.http.errors import DATABASE_UNAVAILABLE, fault_code, note_unavailable
from storage.database import unavailable

log = logging.getLogger(__name__)

def to_fault(exc: errors.CallsuiteError) -> Fault:
    return Fault(fault_code(exc), str(exc))


REFUSAL = "callsuite.soap.refusal"  # environ key: the refusal SoapService answers with 401/429


def soap_operation(func=None, *, access=None):
    """Wrap a Spyne service method: its access rule (services/soap/access.py) runs first;
    domain errors become faults with their safe message. A refusal, from the rule or the
    operation, is left in the WSGI environ so the endpoint answers it, on every binding,
    with 401 + challenge (Unauthorized, when the rule reads HTTP credentials) or 429 +
    Retry-After (TooManyAttempts). A rule with a `fault` attribute makes its own refusals'
    fault (the agent API's numbered messages)."""
    if func is None:
        return functools.partial(soap_operation, access=access)

    @functools.wraps(func)
    def wrapper(ctx, *args, **kwargs):
        try:
            if access is not None:
                from .access import admit
                admit(access, ctx)
            return func(ctx, *args, **kwargs)
        except errors.CallsuiteError as exc:
            if isinstance(exc, TooManyAttempts) or (isinstance(exc, errors.Unauthorized)
                                                    and getattr(access, "http_credentials", False)):
                environ = getattr(ctx.transport, "req_env", None)
                if environ is not None:
                    environ[REFUSAL] = exc
            raise getattr(access, "fault", to_fault)(exc) from None
        except Exception as exc:
            if unavailable(exc):  # as the HTTP edges' 503: the client may send it again
                note_unavailable(log, func.__name__, exc)
                raise to_fault(DATABASE_UNAVAILABLE) from None
            raise

    wrapper.access = access
    return wrapper
