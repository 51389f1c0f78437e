"""The refusal of a Callbutton request (seed 002), before or instead of a report."""
from __future__ import annotations


class ReportRequestError(ValueError):
    """A request that cannot be served; ``message`` is safe to send back in the
    GetCallDetailResponse (no traceback, no internal paths)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
