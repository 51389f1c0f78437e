"""Log records whose text a client controls are cut to an excerpt, so one large hostile
request cannot add megabytes to the log."""
from __future__ import annotations

import logging

MAX_LOGGED_CHARS = 2000


class ExcerptFilter(logging.Filter):
    def __init__(self, limit: int = MAX_LOGGED_CHARS) -> None:
        super().__init__()
        self.limit = limit

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if len(text) > self.limit:
            record.msg, record.args = f"{text[:self.limit]}... [{len(text) - self.limit} more characters]", None
        return True


def bound_logged_text(*loggers: logging.Logger, limit: int = MAX_LOGGED_CHARS) -> None:
    for logger in loggers:
        if not any(isinstance(f, ExcerptFilter) for f in logger.filters):
            logger.addFilter(ExcerptFilter(limit))
