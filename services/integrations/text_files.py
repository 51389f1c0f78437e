"""Recall's integration by text files (seed 003): one file per extension, `<extension>.txt`
in the company's `text_files_dir` (relative: under the data folder), holding the newest recorded call of that extension as
one line (columns and quoting: recall.py `text_line`, README).

Written when the call is answered (the recording starts), rewritten when it ends (with the
duration) and when its audio is in the store (with the file's name under a share prefix).
Each write is a temp file in the same folder, fsynced, then `os.replace`d over the old
one: a reader sees the old line or the new one, never half of either. Each rewrite reads
the committed call from the database, so a repeated or late event writes the same line.
"""
from __future__ import annotations

import logging
import os
import re
import uuid
from pathlib import Path

from services.core import crm
from storage.models import Call

from .recall import text_line, wire_record

log = logging.getLogger(__name__)

_SAFE_EXTENSION = re.compile(r"[A-Za-z0-9_+-]{1,32}")


def write_atomically(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class TextFiles:
    def __init__(self, database, store, zone: str, data_dir: Path) -> None:
        self.database = database
        self.store = store
        self.zone = zone
        self.data_dir = Path(data_dir)  # a relative text_files_dir lives under it

    def write(self, call_id: int) -> None:
        """The line of call `call_id` in its extension's file, if its company keeps text files
        and it is the extension's newest recorded call. Run after the commit of the call's
        answer, end or audio (recall.register), errors logged."""
        with self.database.read_session() as session:
            call = session.get(Call, call_id)
            if call is None or not call.extension:
                return
            company = crm.company_for_call(session, call)
            if company is None or not company.text_files_dir:
                return
            newest = crm.newest_recorded_call(session, call.extension)
            if newest is None or newest.id != call.id:
                return  # a newer call owns the extension's file
            line = text_line(wire_record(crm.call_record(session, call, self.store, company), self.zone),
                             company.text_files_separator)
            folder = self.data_dir / company.text_files_dir  # an absolute folder stays as it is
        if not _SAFE_EXTENSION.fullmatch(call.extension):
            log.warning("no text file for extension %r: not a plain file name", call.extension)
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / f"{call.extension}.txt", line)
        except OSError as exc:
            log.error("text file for extension %s not written in %s: %s", call.extension, folder, exc.strerror)
