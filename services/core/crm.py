"""What Recall forwards to a CRM about a recorded call (seed 003): the call details record,
the company's integration settings, and when the notices are queued. How each route spells
the record on the wire is services/integrations/recall.py.

The record: when the call started, dialled number, calling number, the other party's phone
number, extension, call type (inbound / outbound / internal), duration of the conversation
in seconds, the recording's reference number and the recording file's full name *as the
CRM can open it*: the company's `recording_path_prefix` in front of the store's relative path.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, NamedTuple, Optional
from urllib.parse import urlsplit

from sqlalchemy import bindparam, case, exists, func, select
from sqlalchemy.orm import Session

from storage.models import Call, Company, Extension, Recording
from storage.statements import Prepared
from storage.units import UnitOfWork

from .errors import InvalidInput

CALL_TYPES = ("inbound", "outbound", "internal")
SEPARATORS = ("comma", "tab")
# The seed's five URL placeholders, then what it lists as forwarded but leaves out of its example.
PLACEHOLDERS = {
    "[phone number]": "phone_number",
    "[extension]": "extension",
    "[date & time]": "date_time",
    "[call duration]": "duration",
    "[audio file]": "audio_file",
    "[call type]": "call_type",
    "[dialled number]": "dialled_number",
    "[calling number]": "calling_number",
    "[reference]": "reference",
}
# Fields a CRM web-service mapping may name (plus idempotency_key, added per delivery).
RECORD_FIELDS = ("call_id", "reference", "date_time", "dialled_number", "calling_number", "phone_number",
                 "extension", "call_type", "duration", "audio_file")
WEB_SERVICE_KINDS = ("soap", "json", "jsonp")


@dataclass(frozen=True)
class CallRecord:
    call_id: int
    reference: str
    started_at: datetime  # aware UTC; each route renders it in its own format
    dialled_number: str
    calling_number: str
    phone_number: str  # the other party: the caller of an inbound call, the called of an outbound one
    extension: str
    call_type: str
    duration: Optional[int]  # seconds of conversation; None while the call is in progress
    audio_file: str  # "" until the store has named the file (share prefixes)


# --- the record ---------------------------------------------------------------------------

def company_for_call(session: Session, call: Call) -> Optional[Company]:
    """The call's company, or that of its extension (CTI calls carry only the extension)."""
    if call.company_id is not None:
        return session.get(Company, call.company_id)
    if call.extension:
        extension = session.get(Extension, call.extension)
        if extension is not None and extension.company_id is not None:
            return session.get(Company, extension.company_id)
    return None


@dataclass(frozen=True)
class Routes:
    """Where a call's company sends its records, if anywhere."""
    extension: Optional[str]
    crm: bool  # a URL template or a web service
    text_files_dir: Optional[str]


_CALLS, _EXTENSIONS, _COMPANIES = Call.__table__, Extension.__table__, Company.__table__
# company_for_call's rule as a join: the call's company, else its extension's.
_CALL_AND_COMPANY = (_CALLS.outerjoin(_EXTENSIONS, _EXTENSIONS.c.number == _CALLS.c.extension)
                     .outerjoin(_COMPANIES, _COMPANIES.c.id == func.coalesce(_CALLS.c.company_id,
                                                                             _EXTENSIONS.c.company_id)))
_ROUTES = Prepared(
    select(_CALLS.c.extension, _COMPANIES.c.crm_url_template, _COMPANIES.c.crm_web_service, _COMPANIES.c.text_files_dir)
    .select_from(_CALL_AND_COMPANY).where(_CALLS.c.id == bindparam("id")))


def routes_of_call(unit: UnitOfWork, call_id: int) -> Optional[Routes]:
    """The call's company's routes (None: no such call). Every call event asks, and most
    companies have none: one prepared statement, before any ORM load."""
    row = _ROUTES.first(unit, {"id": call_id})
    if row is None:
        return None
    extension, url_template, web_service, text_files_dir = row  # (as notice_due reads them)
    return Routes(extension, bool(url_template or web_service), text_files_dir)


def far_party(call: Call) -> Optional[str]:
    return call.ani if call.direction == "inbound" else (call.target or call.did)


def call_type(session: Session, call: Call) -> str:
    """internal when the other party is itself one of the site's extensions."""
    party = far_party(call)
    if party and session.get(Extension, party) is not None:
        return "internal"
    return call.direction


def audio_file(company: Optional[Company], recording: Optional[Recording], store) -> str:
    """The recording file as the CRM can open it.

    A prefix starting with http:// or https:// is the recording's URL up to its reference
    number (e.g. `http://recorder:8000/bluebutler/service/MP3/`), known from the call's first
    moment. Any other prefix is a share or folder (`\\\\recorder\\recordings\\`) in front of
    the store's relative path, written with the prefix's separators. Without a prefix: the
    file's path on this server.
    """
    if recording is None:
        return ""
    return audio_file_at(company.recording_path_prefix if company is not None else None,
                         recording.reference, recording.file_path, recording.state, store)


def audio_file_at(prefix: Optional[str], reference: str, file_path: Optional[str], state: str, store) -> str:
    """audio_file from the columns it reads: the company's prefix and the recording's."""
    if prefix and prefix.lower().startswith(("http://", "https://")):
        return prefix + reference
    if not file_path or state in ("missing", "purged"):
        return ""
    if prefix:
        separator = "\\" if "\\" in prefix else "/"
        if not prefix.endswith(separator):
            prefix += separator
        return prefix + file_path.replace("/", separator)
    return str(store.path_of(file_path))


def call_record(session: Session, call: Call, store, company: Optional[Company] = None) -> CallRecord:
    company = company if company is not None else company_for_call(session, call)
    recording = call.recording
    return _record(call, internal=call_type(session, call) == "internal",
                   reference=recording.reference if recording else "", audio_file=audio_file(company, recording, store))


def _record(call, *, internal: bool, reference: str, audio_file: str) -> CallRecord:
    """The record of `call` (a Call, or a row with its columns' names)."""
    if call.direction == "inbound":
        dialled, calling = call.did or call.target or call.extension, call.ani
    else:
        dialled, calling = call.target or call.did, call.ani or call.extension
    duration = None
    if call.state == "ended":
        duration = call.talk_time_s if call.talk_time_s is not None else call.duration_s
    return CallRecord(
        call_id=call.id, reference=reference, started_at=call.started_at, dialled_number=dialled or "",
        calling_number=calling or "", phone_number=far_party(call) or "", extension=call.extension or "",
        call_type="internal" if internal else call.direction, duration=duration, audio_file=audio_file)


def newest_recorded_call(session: Session, extension: str) -> Optional[Call]:
    """The extension's text file holds the newest answered, recorded call only."""
    return session.scalar(
        select(Call).join(Recording, Recording.call_id == Call.id)
        .where(Call.extension == extension, Call.answered_at.is_not(None))
        .order_by(Call.started_at.desc(), Call.id.desc()).limit(1))


# --- the notice of a complete call -------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """What a complete call's CRM notices are made of."""
    company_id: int
    url_template: Optional[str]
    web_service: Optional[dict]
    recording_id: int
    record: CallRecord


class _NoticeFacts(NamedTuple):
    id: int
    state: str
    direction: str
    did: Optional[str]
    target: Optional[str]
    extension: Optional[str]
    ani: Optional[str]
    started_at: datetime
    talk_time_s: Optional[int]
    duration_s: Optional[int]
    recording_id: int
    reference: str
    file_path: Optional[str]
    recording_state: str
    company_id: Optional[int]
    url_template: Optional[str]
    web_service: Optional[dict]
    prefix: Optional[str]
    internal: bool


_RECORDINGS, _FAR = Recording.__table__, _EXTENSIONS.alias("far")
# far_party's rule: the caller of an inbound call, else the called (an empty target as none).
_FAR_PARTY = case((_CALLS.c.direction == "inbound", _CALLS.c.ani),
                  else_=func.coalesce(func.nullif(_CALLS.c.target, ""), _CALLS.c.did))
# The call, its recording, its company and call_type's question, in one statement.
_NOTICE = Prepared(
    select(*(_CALLS.c[name] for name in ("id", "state", "direction", "did", "target", "extension", "ani",
                                          "started_at", "talk_time_s", "duration_s")),
           _RECORDINGS.c.id, _RECORDINGS.c.reference, _RECORDINGS.c.file_path, _RECORDINGS.c.state,
           _COMPANIES.c.id, _COMPANIES.c.crm_url_template, _COMPANIES.c.crm_web_service,
           _COMPANIES.c.recording_path_prefix,
           exists().where(_FAR.c.number == _FAR_PARTY).label("internal"))
    .select_from(_CALL_AND_COMPANY.join(_RECORDINGS, _RECORDINGS.c.call_id == _CALLS.c.id))
    .where(_CALLS.c.id == bindparam("id")))


def notice_due(unit: UnitOfWork, call_id: int, store) -> Optional[Notice]:
    """The CRM notice of call `call_id` once it has ended and its audio is in the store, if
    its company has a URL or web-service route: one prepared statement, which sees what
    this transaction wrote and, on PostgreSQL, what others committed before it ran (of a
    call's end and its audio committed at once by two servers, the later sees both)."""
    if isinstance(unit, Session):
        unit.flush()  # a subscriber runs before the commit's own flush
    row = _NOTICE.first(unit, {"id": call_id})
    if row is None:
        return None
    facts = _NoticeFacts(*row)
    if facts.state != "ended" or facts.recording_state != "available" or facts.company_id is None \
            or not (facts.url_template or facts.web_service):
        return None
    audio = audio_file_at(facts.prefix, facts.reference, facts.file_path, facts.recording_state, store)
    return Notice(facts.company_id, facts.url_template, facts.web_service, facts.recording_id,
                  _record(facts, internal=bool(facts.internal), reference=facts.reference, audio_file=audio))


# --- company settings ---------------------------------------------------------------------

def check_url_template(template: Any) -> str:
    """Refuses templates that are not http(s), or that put a placeholder where its value
    would choose the host."""
    if not isinstance(template, str) or not template.strip():
        raise InvalidInput("crm_url_template must be a URL")
    fixed = template
    for placeholder in PLACEHOLDERS:
        fixed = fixed.replace(placeholder, "")
    if any(ch.isspace() for ch in fixed):
        raise InvalidInput("crm_url_template: no spaces or line breaks outside the placeholders")
    scheme, sep, rest = template.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if any(placeholder in authority for placeholder in PLACEHOLDERS):
        raise InvalidInput("crm_url_template: placeholders may appear only in the path and query")
    try:
        parts = urlsplit(template)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        raise InvalidInput("crm_url_template is not a well-formed URL") from None
    if not sep or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("crm_url_template must be an http:// or https:// URL")
    return template


def check_web_service(config: Any) -> Optional[dict]:
    """A company's crm_web_service: {"kind": "soap", "wsdl", "operation", "mapping": {param: field}},
    {"kind": "json", "url"} or {"kind": "jsonp", "url", "callback"}."""
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise InvalidInput("crm_web_service must be an object")
    kind = config.get("kind")
    if kind not in WEB_SERVICE_KINDS:
        raise InvalidInput(f"crm_web_service.kind must be one of {', '.join(WEB_SERVICE_KINDS)}")
    address_key = "wsdl" if kind == "soap" else "url"
    address = config.get(address_key)
    parts = urlsplit(address) if isinstance(address, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"crm_web_service.{address_key} must be an http:// or https:// URL")
    allowed = {"kind", address_key} | ({"operation", "mapping"} if kind == "soap" else set()) | (
        {"callback"} if kind == "jsonp" else set())
    unknown = set(config) - allowed
    if unknown:
        raise InvalidInput(f"crm_web_service ({kind}) has unknown key(s) {', '.join(sorted(unknown))}")
    if kind == "soap":
        if not isinstance(config.get("operation"), str) or not config["operation"]:
            raise InvalidInput("crm_web_service.operation names the SOAP operation to call")
        mapping = config.get("mapping")
        if not isinstance(mapping, Mapping) or not mapping:
            raise InvalidInput("crm_web_service.mapping maps the operation's parameters to record fields")
        fields = set(RECORD_FIELDS) | {"idempotency_key"}
        for param, field in mapping.items():
            if field not in fields:
                raise InvalidInput(f"crm_web_service.mapping.{param}: unknown field {field!r}; "
                                   f"expected one of {', '.join(sorted(fields))}")
    if kind == "jsonp":
        callback = config.get("callback", "callback")
        if not isinstance(callback, str) or not callback.isidentifier():
            raise InvalidInput("crm_web_service.callback must be a JavaScript identifier")
    return dict(config)
