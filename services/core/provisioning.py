"""Load a site file (companies, queues, users, ...) idempotently: upsert by natural key.

Each entry reports "created", "changed" or "unchanged", so running the same file twice
shows nothing changed. Passwords are compared against their stored hash, never kept.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.database import advance_id_sequences
from storage.models import (
    Campaign,
    ClientCode,
    Company,
    Extension,
    Lead,
    LeadPhone,
    PartnerAccount,
    QueueAgent,
    ResultCode,
    ServiceQueue,
    User,
    Workstation,
)

from . import crm
from .errors import InvalidInput
from .phone import to_e164
from .security import hash_password, password_matches_hash
from .slots import opening_by_weekday

_SINGULAR = {"companies": "company", "queues": "queue", "users": "user", "workstations": "workstation",
             "partners": "partner", "campaigns": "campaign", "result_codes": "result_code", "leads": "lead"}
SECTIONS = ("companies", "queues", "users", "workstations", "partners", "campaigns", "result_codes", "leads")


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    action: str  # created, changed, unchanged

    def __str__(self) -> str:
        return f"{self.action:9} {_SINGULAR[self.section]} {self.key}"


def provision(session: Session, site: Mapping[str, Any]) -> list[Change]:
    if not isinstance(site, Mapping):
        raise InvalidInput("a site file is a JSON/YAML object with sections " + ", ".join(SECTIONS))
    unknown = set(site) - set(SECTIONS)
    if unknown:
        raise InvalidInput(f"unknown section(s): {', '.join(sorted(unknown))}")
    changes: list[Change] = []
    for section in SECTIONS:
        entries = site.get(section) or []
        if not isinstance(entries, list):
            raise InvalidInput(f"section {section!r} must be a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise InvalidInput(f"{section}[{index}] must be an object")
            try:
                changes.append(_LOADERS[section](session, entry))
            except KeyError as exc:
                raise InvalidInput(f"{section}[{index}] lacks {exc.args[0]!r}") from None
            session.flush()
    for entry in site.get("queues") or []:
        change = _queue_agents(session, entry)
        if change is not None:
            changes.append(change)
    session.flush()
    advance_id_sequences(session, (Lead.__tablename__, LeadPhone.__tablename__))  # leads come with their ids
    return changes


def _apply(obj: Any, values: Mapping[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _upsert(session: Session, section: str, model: type, key: Any, values: Mapping[str, Any],
            password: Optional[str] = None, password_attr: str = "password_hash") -> Change:
    obj = session.get(model, key)
    created = obj is None
    if created:
        obj = model(**({"id": key} if isinstance(key, int) else {}))
        if not isinstance(key, int):
            setattr(obj, _key_attr(model), key)
        session.add(obj)
    changed = _apply(obj, values)
    if password is not None and not password_matches_hash(getattr(obj, password_attr), str(password)):
        setattr(obj, password_attr, hash_password(str(password)))
        changed = True
    return Change(section, str(key), "created" if created else ("changed" if changed else "unchanged"))


def _key_attr(model: type) -> str:
    return {ClientCode: "code", Workstation: "host", Extension: "number"}[model]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}") from None
    return name


def _company(session: Session, e: Mapping[str, Any]) -> Change:
    company_id = int(e["id"])
    change = _upsert(session, "companies", Company, company_id, {
        "name": str(e["name"]),
        "timezone": _zone(e.get("timezone", "Europe/London")),
        "regions": list(e.get("regions", ["GB", "IE"])),
        "whitelist": list(e.get("whitelist", [])),
        "blacklist": list(e.get("blacklist", [])),
        "field_names": dict(e.get("field_names", {})),
        "bms_notify_url": e.get("bms_notify_url"),
        **_recall_settings(e),
    }, password=e.get("password"))
    codes_changed = False
    for code in e.get("client_codes", []):
        existing = session.get(ClientCode, str(code))
        if existing is None:
            session.add(ClientCode(code=str(code), company_id=company_id))
            codes_changed = True
        elif existing.company_id != company_id:
            existing.company_id = company_id
            codes_changed = True
    if codes_changed and change.action == "unchanged":
        return Change(change.section, change.key, "changed")
    return change


def _recall_settings(e: Mapping[str, Any]) -> dict[str, Any]:
    """Recall's integration routes (seed 003), checked now rather than at delivery time."""
    template = e.get("crm_url_template")
    separator = e.get("text_files_separator", "comma")
    if separator not in crm.SEPARATORS:
        raise InvalidInput(f"text_files_separator must be one of {', '.join(crm.SEPARATORS)}")
    for name in ("text_files_dir", "recording_path_prefix", "hmac_secret"):
        if e.get(name) is not None and (not isinstance(e[name], str) or not e[name]):
            raise InvalidInput(f"{name} must be a non-empty string")
    if e.get("hmac_secret") is not None and len(e["hmac_secret"]) < 16:
        raise InvalidInput("hmac_secret must be at least 16 characters")
    return {
        "crm_url_template": None if template is None else crm.check_url_template(template),
        "crm_web_service": crm.check_web_service(e.get("crm_web_service")),
        "text_files_dir": e.get("text_files_dir"),
        "text_files_separator": separator,
        "recording_path_prefix": e.get("recording_path_prefix"),
        "hmac_secret": e.get("hmac_secret"),  # kept as configured: it signs every delivery
    }


def _queue(session: Session, e: Mapping[str, Any]) -> Change:
    opening_hours = dict(e.get("opening_hours", {"mon-fri": "08:00-18:00"}))
    opening_by_weekday(opening_hours)  # refuses malformed hours now, not when a caller asks
    change = _upsert(session, "queues", ServiceQueue, int(e["id"]), {
        "company_id": int(e["company"]),
        "name": str(e["name"]),
        "opening_hours": opening_hours,
        "slot_minutes": int(e.get("slot_minutes", 30)),
        "slot_capacity": int(e.get("slot_capacity", 1)),
        "holidays": [str(d) for d in e.get("holidays", [])],
    })
    return change


def _queue_agents(session: Session, e: Mapping[str, Any]) -> Optional[Change]:
    """A queue's `agents` (user ids): whose extensions the callback engine rings for it.
    Applied after the users section, so a queue may name users of the same file."""
    if "agents" not in e:
        return None
    queue_id = int(e["id"])
    wanted = {int(user_id) for user_id in e["agents"]}
    for user_id in wanted:
        if session.get(User, user_id) is None:
            raise InvalidInput(f"queue {queue_id} names unknown agent user {user_id}")
    current = set(session.scalars(select(QueueAgent.user_id).where(QueueAgent.queue_id == queue_id)))
    for user_id in current - wanted:
        session.delete(session.get(QueueAgent, (queue_id, user_id)))
    for user_id in wanted - current:
        session.add(QueueAgent(queue_id=queue_id, user_id=user_id))
    if wanted == current:
        return None
    return Change("queues", f"{queue_id} agents", "changed" if current else "created")


def _user(session: Session, e: Mapping[str, Any]) -> Change:
    extension = e.get("extension")
    if extension is not None and session.get(Extension, str(extension)) is None:
        session.add(Extension(number=str(extension), company_id=e.get("company")))
    return _upsert(session, "users", User, int(e["id"]), {
        "username": str(e["username"]),
        "full_name": str(e.get("full_name", "")),
        "extension": None if extension is None else str(extension),
        "global_listening": bool(e.get("global_listening", False)),
        "company_id": e.get("company"),
        "supervisor": bool(e.get("supervisor", False)),
    }, password=e["password"])


def _workstation(session: Session, e: Mapping[str, Any]) -> Change:
    return _upsert(session, "workstations", Workstation, str(e["host"]), {
        "address": e.get("address"),
        "extension": str(e["extension"]),
    })


def _partner(session: Session, e: Mapping[str, Any]) -> Change:
    username = str(e["username"])
    partner = session.scalar(select(PartnerAccount).where(PartnerAccount.username == username))
    created = partner is None
    if created:
        partner = PartnerAccount(username=username, password_hash="")
        session.add(partner)
    changed = _apply(partner, {"allowed_ips": [_network(entry) for entry in e.get("allowed_ips", [])],
                               "client_codes": [str(c) for c in e.get("client_codes", [])]})
    if not password_matches_hash(partner.password_hash or None, str(e["password"])):
        partner.password_hash = hash_password(str(e["password"]))
        changed = True
    return Change("partners", username, "created" if created else ("changed" if changed else "unchanged"))


def _network(entry: Any) -> str:
    """An allowed source: an address or a CIDR network, checked now rather than at run time."""
    try:
        ipaddress.ip_network(str(entry), strict=False)
    except ValueError:
        raise InvalidInput(f"allowed_ips entry {entry!r} is not an IP address or network") from None
    return str(entry)


def _campaign(session: Session, e: Mapping[str, Any]) -> Change:
    return _upsert(session, "campaigns", Campaign, int(e["id"]), {
        "name": str(e["name"]),
        "company_id": e.get("company"),
        "description": str(e.get("description", "")),
        "active": bool(e.get("active", True)),
        "auto_record": bool(e.get("auto_record", True)),
        "caller_id": e.get("caller_id"),
    })


def _result_code(session: Session, e: Mapping[str, Any]) -> Change:
    code = str(e["code"])
    row = session.scalar(select(ResultCode).where(ResultCode.code == code))
    created = row is None
    if created:
        row = ResultCode(code=code)
        session.add(row)
    changed = _apply(row, {
        "description": str(e.get("description", "")),
        "is_success": bool(e.get("is_success", False)),
        "is_callback": bool(e.get("is_callback", False)),
        "is_call_again": bool(e.get("is_call_again", False)),
    })
    return Change("result_codes", code, "created" if created else ("changed" if changed else "unchanged"))


def _lead(session: Session, e: Mapping[str, Any]) -> Change:
    """A lead of seed 004 with its phones (E.164), each phone upserted by its id."""
    lead_id = int(e["id"])
    lead = session.get(Lead, lead_id)
    created = lead is None
    if created:
        lead = Lead(id=lead_id, created_at=datetime.now(timezone.utc))
        session.add(lead)
    changed = _apply(lead, {"campaign_id": e.get("campaign"), "first_name": str(e.get("first_name", "")),
                            "last_name": str(e.get("last_name", ""))})
    for phone in e.get("phones", []):
        row = session.get(LeadPhone, int(phone["id"]))
        if row is None:
            row = LeadPhone(id=int(phone["id"]))
            session.add(row)
            changed = True
        changed = _apply(row, {"lead_id": lead_id, "phone_number": to_e164(str(phone["phone"])),
                               "record_type": str(phone.get("record_type", "Home")),
                               "record_type_id": int(phone.get("record_type_id", 1))}) or changed
    return Change("leads", str(lead_id), "created" if created else ("changed" if changed else "unchanged"))


_LOADERS: dict[str, Callable[[Session, Mapping[str, Any]], Change]] = {
    "companies": _company, "queues": _queue, "users": _user, "workstations": _workstation,
    "partners": _partner, "campaigns": _campaign, "result_codes": _result_code, "leads": _lead,
}
