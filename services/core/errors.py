"""The small exception hierarchy of the domain. Edges translate these into their protocol."""


class CallsuiteError(Exception):
    """Base of every domain error; the message is safe to show to the caller."""


class InvalidInput(CallsuiteError):
    """The request is malformed or a value is out of range."""


class NotFound(CallsuiteError):
    """The thing named does not exist (or is not visible to this caller)."""


class Conflict(CallsuiteError):
    """The request is well-formed but contradicts the current state (e.g. out of order)."""


class Unauthorized(CallsuiteError):
    """No or wrong credentials."""


class Forbidden(CallsuiteError):
    """Valid credentials, but not allowed to do this."""


class Unavailable(CallsuiteError):
    """A resource needed to do this is exhausted or switched off."""
