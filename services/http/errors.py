"""One table from the domain's error kinds to what each protocol answers: the HTTP status
of plain HTTP and JSON edges, and the SOAP fault code. Edges look errors up here."""
from __future__ import annotations

from services.core import errors
from services.core.throttle import TooManyAttempts

# Most specific first: a subclass is matched before its base.
KINDS: dict[type, tuple[int, str]] = {
    TooManyAttempts: (429, "Client.TooManyAttempts"),
    errors.InvalidInput: (400, "Client.InvalidInput"),
    errors.NotFound: (404, "Client.NotFound"),
    errors.Conflict: (409, "Client.Conflict"),
    errors.Unauthorized: (401, "Client.Unauthorized"),
    errors.Forbidden: (403, "Client.Forbidden"),
    errors.Unavailable: (503, "Server.Unavailable"),
}
UNKNOWN = (500, "Server")
# A database that cannot answer just now (storage.database.unavailable): the same request
# may succeed a moment later, on every binding (HTTP 503 with Retry-After, a Server.Unavailable fault).
DATABASE_UNAVAILABLE = errors.Unavailable("the database is unavailable; try again shortly")
RETRY_AFTER_UNAVAILABLE_S = 5


def note_unavailable(log, where: str, exc: BaseException) -> None:
    """One warning line for a request the database could not answer: an outage must not fill
    the log with a traceback per request."""
    log.warning("database unavailable on %s: %s", where, str(exc).split("\n", 1)[0])


def kind_of(exc: errors.CallsuiteError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in KINDS:
            return KINDS[cls]
    return UNKNOWN


def http_status(exc: errors.CallsuiteError) -> int:
    return kind_of(exc)[0]


def fault_code(exc: errors.CallsuiteError) -> str:
    return kind_of(exc)[1]
