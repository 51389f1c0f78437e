"""Domain errors become SOAP faults (and, over GET, JSON fault objects) at the edge."""
from __future__ import annotations

import functools
import logging

from spyne import Fault

from services.core import errors
from services.core.throttle import TooManyAttempts

log = logging.getLogger(__name__)

_CODES = {
    TooManyAttempts: "Client.TooManyAttempts",
    errors.InvalidInput: "Client.InvalidInput",
    errors.NotFound: "Client.NotFound",
    errors.Conflict: "Client.Conflict",
    errors.Unauthorized: "Client.Unauthorized",
    errors.Forbidden: "Client.Forbidden",
    errors.Unavailable: "Server.Unavailable",
}


def to_fault(exc: errors.CallsuiteError) -> Fault:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return Fault(_CODES[cls], str(exc))
    return Fault("Server", str(exc))


def soap_operation(func):
    """Wrap a Spyne service method: domain errors become faults with their safe message."""

    @functools.wraps(func)
    def wrapper(ctx, *args, **kwargs):
        try:
            return func(ctx, *args, **kwargs)
        except errors.CallsuiteError as exc:
            raise to_fault(exc) from None

    return wrapper


def not_implemented(operation: str) -> Fault:
    return Fault("Server.NotImplemented", f"{operation} is not implemented yet")
