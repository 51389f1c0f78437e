"""The call options of the Callbutton call detail report (seed 002): whether the call's
recording has been reviewed, its sales status and its journal ("notes"), "as specified
manually in the options page of the call detail report". The console's options page
(services/console/edge.py) is that page; the XML report and the SOAP/GET service read
the values back from the ledger (``Call.reviewed``, ``Call.sales_status``, ``Call.journal``).

No WSGI, no templates: edges translate the errors into their protocol.

Decisions:

* Who may change a call's options is who may listen to its recording
  (:func:`services.core.recordings.may_listen`): a user with global listening rights, or a
  user whose extension is the call's extension. A call without a recording (yet) follows
  the same extension rule. Anybody else gets :class:`Forbidden`; an unknown call is
  :class:`NotFound`.
* Sales status is one of the schema's values: ``""`` (stored as NULL), ``"Called back"``
  or ``"Made sale"``, exactly as written; anything else is :class:`InvalidInput`.
* The journal keeps its line breaks (CR, LF, CRLF) exactly as given; NUL and the other
  characters that XML 1.0 cannot carry are dropped (the report could not send them), and
  what is left may be at most :data:`MAX_JOURNAL` characters. An empty journal is NULL.
* The values are set in the caller's transaction: a refusal changes nothing.
"""
from __future__ import annotations

import logging
import re
from typing import Optional

from sqlalchemy.orm import Session

from storage.models import Call, User

from .errors import Forbidden, InvalidInput, NotFound
from .recordings import may_listen

log = logging.getLogger(__name__)

SALES_STATUSES = ("", "Called back", "Made sale")
MAX_JOURNAL = 20_000
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def may_edit(user: Optional[User], call: Call) -> bool:
    """The listening rule of :func:`may_listen`, also for a call without a recording."""
    if user is None:
        return False
    if call.recording is not None:
        return may_listen(user, call.recording)
    if user.global_listening:
        return True
    return bool(user.extension) and call.extension == user.extension


def call_for_editor(session: Session, user: Optional[User], call_id: int) -> Call:
    """The call, if this user may see and change its options."""
    try:
        key = int(call_id)
    except (TypeError, ValueError):
        raise NotFound(f"no call {call_id!r}") from None
    call = session.get(Call, key) if key > 0 else None
    if call is None:
        raise NotFound(f"no call {call_id!r}")
    if not may_edit(user, call):
        raise Forbidden("this user may not change that call's options")
    return call


def clean_sales_status(value: Optional[str]) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in SALES_STATUSES:
        raise InvalidInput("sales status must be empty, 'Called back' or 'Made sale'")
    return value


def clean_journal(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("journal must be text")
    text = _XML_INVALID.sub("", value)
    if len(text) > MAX_JOURNAL:
        raise InvalidInput(f"journal is {len(text)} characters; at most {MAX_JOURNAL} are allowed")
    return text or None


def set_call_options(session: Session, user: Optional[User], call_id: int, *, reviewed: bool,
                     sales_status: Optional[str], journal: Optional[str]) -> Call:
    """Set the reviewed flag, sales status and journal of a call; returns the call."""
    call = call_for_editor(session, user, call_id)
    if not isinstance(reviewed, bool):
        raise InvalidInput("reviewed must be true or false")
    status = clean_sales_status(sales_status)
    notes = clean_journal(journal)
    call.reviewed, call.sales_status, call.journal = reviewed, status, notes
    session.flush()
    log.info("call %s options set by %s: reviewed=%s sales_status=%r journal=%d chars",
             call.id, user.username, reviewed, status, len(notes or ""))
    return call
