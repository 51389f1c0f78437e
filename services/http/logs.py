"""The server's log: records whose text a client controls are cut to an excerpt (one large
hostile request cannot add megabytes to the log), and lines are written in batches by one
thread of their own."""
from __future__ import annotations

import logging
import logging.handlers
import queue
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


class BatchedQueueListener(logging.handlers.QueueListener):
    """The log writer of `callsuite serve`: request threads only queue their records, and
    this listener's one thread writes them. A request thread that wrote to stderr itself
    gave up the GIL for the write and waited for it back behind the others; a writer woken
    for every line cost a thread switch per request (~0.2 ms of CPU per AddLink under load,
    bench/run.py). So once the queue is empty it lets `interval_s` pass before it waits
    again: the lines queued meanwhile are written in one wake-up. `stop()` writes what is
    still queued."""

    def __init__(self, queue, *handlers, interval_s: float = 0.02) -> None:
        super().__init__(queue, *handlers, respect_handler_level=True)
        self.interval_s = interval_s

    def dequeue(self, block: bool):
        if self.queue.empty():
            time.sleep(self.interval_s)
        return self.queue.get(block)


def log_from_one_thread() -> BatchedQueueListener:
    """Hands the root logger's handlers to a started BatchedQueueListener, and stops
    gathering what the log format never shows: the calling frame's file and line, the
    thread, the process (the "Optimization" switches of the logging documentation). Each
    request's access line built a LogRecord with all of them, about a fifth of the Python
    time of a request that does nothing else."""
    logging._srcfile = None  # documented: no findCaller() walk up the stack
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    records: queue.SimpleQueue = queue.SimpleQueue()
    writer = BatchedQueueListener(records, *root.handlers)
    root.handlers = [logging.handlers.QueueHandler(records)]
    writer.start()
    return writer
