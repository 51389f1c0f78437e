"""The Buzzeasy test site: companies, queues and numbers whose simulated outcomes are known,
and engine timings short enough that a callback runs in about a second."""
from __future__ import annotations

import copy
import time
from typing import Callable

import pytest
import requests

from .server import start_server

COMPANY_PASSWORD = "P@ssword"  # the seed's example password
ANSWERS = "+447779453115"  # a valid UK mobile (the seed's example, which has a digit too many)
BUSY = "+447779453201"
NO_ANSWER = "+447779453202"
VOICEMAIL = "+447779453203"
UNREACHABLE = "+447779453204"
BLACKLISTED = "+447779453299"
IRISH_NATIONAL = "0851234567"  # valid in IE

OUTCOMES = (
    {"pattern": BUSY, "outcome": "busy", "after_s": 0.2},
    {"pattern": NO_ANSWER, "outcome": "no_answer", "after_s": 0.3},
    {"pattern": VOICEMAIL, "outcome": "voicemail", "after_s": 0.2, "greeting_s": 0.5, "message_s": 1},
    {"pattern": UNREACHABLE, "outcome": "unreachable", "after_s": 0.1},
)

FAST_ENGINE = {
    "outbound_outcomes": OUTCOMES, "callback_interval_s": 0.1, "callback_answer_after_s": 0.2,
    "callback_agent_answer_s": 0.2, "callback_talk_s": 0.5, "callback_retry_delay_s": 0.3,
    "callback_max_attempts": 2, "callback_ring_timeout_s": 3.0, "callback_lease_s": 6.0,
}

ALWAYS_OPEN = {"mon-sun": "00:00-23:59:59"}

SITE = {
    "companies": [
        {"id": 1, "name": "Acme Insurance", "password": COMPANY_PASSWORD, "timezone": "Europe/London",
         "regions": ["GB", "IE"], "whitelist": [], "blacklist": [BLACKLISTED], "client_codes": ["8005551234"],
         "field_names": {"field1": "Account Number", "field2": "Policy", "field10": "Notes"}},
        {"id": 2, "name": "Whitelisted Ltd", "password": "other-pw", "timezone": "Europe/Dublin",
         "regions": ["IE"], "whitelist": [ANSWERS], "blacklist": []},
    ],
    "queues": [
        {"id": 1, "company": 1, "name": "Claims", "opening_hours": ALWAYS_OPEN, "slot_minutes": 30,
         "slot_capacity": 3, "holidays": []},
        {"id": 2, "company": 1, "name": "Closed", "opening_hours": {}, "slot_minutes": 30, "slot_capacity": 1},
        {"id": 3, "company": 2, "name": "Sales", "opening_hours": ALWAYS_OPEN, "slot_minutes": 30,
         "slot_capacity": 1},
        {"id": 4, "company": 1, "name": "Seed hours", "opening_hours": {"mon-fri": "08:00-18:00"},
         "slot_minutes": 30, "slot_capacity": 1, "holidays": ["2026-12-25"]},
    ],
    "partners": [{"username": "partner1", "password": "partner-pw", "allowed_ips": ["127.0.0.1"],
                  "client_codes": ["8005551234"]}],
    "users": [{"id": 7, "username": "alice", "full_name": "Alice Agent", "password": "demo-alice-pw",
               "extension": "201", "global_listening": True, "company": 1}],
}


def site(**queue_changes) -> dict:
    """The site, with changes to queue 1 (opening hours, slot length...)."""
    result = copy.deepcopy(SITE)
    result["queues"][0].update(queue_changes)
    return result


def next_weekday(weekday: int, zone: str = "Europe/London", holidays=("2026-12-25",)):
    """The next date (after today, in `zone`) falling on `weekday` (0 = Monday), not a holiday."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo
    day = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    while day.weekday() != weekday or day.isoformat() in holidays:
        day += timedelta(days=1)
    return day


def rest(live, operation: str, body) -> requests.Response:
    return requests.post(live.url(f"/RequestCallbackService/Service.svc/rest/{operation}"), timeout=20,
                         data=body if isinstance(body, (str, bytes)) else None,
                         json=None if isinstance(body, (str, bytes)) else body,
                         headers={"Content-Type": "application/json"})


def request_row(live, confirmation_code: str):
    from services.core import callbacks
    with live.db.read_session() as session:
        return callbacks.by_confirmation_code(session, confirmation_code)


def statuses(live, confirmation_code: str) -> list[str]:
    from services.core import callbacks
    with live.db.read_session() as session:
        request = callbacks.by_confirmation_code(session, confirmation_code)
        return [event.status for event in callbacks.history(session, request.id)]


def wait_for(predicate: Callable[[], object], timeout_s: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def zone(name: str):
    from zoneinfo import ZoneInfo
    return ZoneInfo(name)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The server with the Buzzeasy test site and a fast callback engine. These modules send
    wrong passwords on purpose: the sign-in limit is raised here and tested on its own
    (tests/security/test_signin_rate_limit.py)."""
    server = start_server(tmp_path_factory.mktemp("callsuite-data"), site=site(agents=[7]), **FAST_ENGINE,
                          signin_max_failures=10_000, signin_max_address_failures=10_000)
    yield server
    server.stop()
