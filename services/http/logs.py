"""The server's log: records whose text a client controls are cut to an excerpt (one large
hostile request cannot add megabytes to the log), and lines are written in batches by one
thread of their own."""
from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
import time

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


class BatchedLogWriter:
    """Takes the root logger's handlers over: request threads only queue their records, and
    one thread writes them, waking at most every `interval_s`. A request thread that wrote
    to stderr itself gave up the GIL for the write and waited for it back behind the
    others; a writer woken for every line cost a thread switch per request (~0.2 ms of CPU
    per AddLink under load, bench/run.py). `stop()` writes what is still queued."""

    _STOP = object()

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self._records: queue.SimpleQueue = queue.SimpleQueue()
        root = logging.getLogger()
        self._handlers = list(root.handlers)
        root.handlers = [logging.handlers.QueueHandler(self._records)]
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> "BatchedLogWriter":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._records.put(self._STOP)
        self._thread.join()
        logging.getLogger().handlers = self._handlers

    def _run(self) -> None:
        while True:
            batch = [self._records.get()]
            time.sleep(self.interval_s)  # lines queued meanwhile join this batch without a wake-up
            while True:
                try:
                    batch.append(self._records.get_nowait())
                except queue.Empty:
                    break
            for record in batch:
                if record is self._STOP:
                    return
                for handler in self._handlers:
                    if record.levelno >= handler.level:
                        handler.handle(record)
