"""The web agent at /console/agent in Chromium, while the agent API acts on the same
session: each side sees what the other did."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from helpers.agent import AgentClient
from helpers.console import signed_in
from helpers.server import start_server

from storage.models import Call

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("web-agent"), agent_answer_after_s=0.0)
    yield server
    server.stop()


def test_the_web_agent_and_the_api_on_one_session(live, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    api = AgentClient(live, "alice", 7)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(live.url("/console/agent"))
        assert page.url.endswith("/console/signin")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "demo-alice-pw")
        page.click("button[type=submit]")
        page.wait_for_url("**/console/")
        page.click("a.agent")
        page.wait_for_url("**/console/agent")
        assert page.locator(".agent-state").inner_text() == "logged out"

        page.select_option("#campaign", "3")
        page.click("#login")
        page.wait_for_selector("#agent[data-state='logged_in']")
        assert api.do("getcalls").ok and api.do("campaigns").one["ReadyUsers"] is None
        page.click("#ready")
        page.wait_for_selector("#agent[data-state='ready']")
        assert api.do("campaigns").one["ReadyUsers"] == [7]

        # The API dials: the page shows the call.
        call_id = api.get(f"/dial/user/7/phone/{quote('+442079460111')}").one["CallId"]
        row = f"tr.call[data-call='{call_id}']"
        page.wait_for_selector(f"{row}[data-state='connected']")
        assert page.locator(f"{row} .customer").inner_text() == "Carol Customer"

        # The page holds: the API sees it; the API retrieves: the page sees it.
        page.click(f"{row} button.hold")
        page.wait_for_selector(f"{row}[data-state='held']")
        assert api.do("getcalls").one["CallState"] == 3
        assert api.call("retrieve", call_id).ok
        page.wait_for_selector(f"{row}[data-state='connected']")

        # The API pauses the recording: the page's record button follows (the seed's did not).
        assert api.call("stoprecord", call_id).ok
        page.wait_for_selector(f"{row}[data-recording='paused'] button.startrecord")
        page.screenshot(path=str(ARTIFACTS / "web-agent-paused.png"), full_page=True)
        page.click(f"{row} button.startrecord")
        page.wait_for_selector(f"{row}[data-recording='recording']")
        assert api.do("getcalls").one["RecordingState"] == 1

        page.click(f"{row} button.hangup")
        page.wait_for_selector(f"{row}[data-status='wrapping']")
        assert api.do("getcalls").one["CallStatus"] == 2
        page.select_option(f"{row} select.resultcode", "SALE")
        page.click(f"{row} button.dispose")
        page.wait_for_selector("#no-calls")
        assert api.do("getcalls").entities == []
        with live.db.read_session() as session:
            assert session.get(Call, call_id).result_code == "SALE"

        # The API logs the agent out: the page follows.
        assert api.do("logout").ok
        page.wait_for_selector("#agent[data-state='logged_out']")
    finally:
        page.close()


def test_web_agent_posts_need_the_csrf_token(live):
    http, csrf = signed_in(live)
    assert http.post(live.url("/console/agent/login"), data={"campaign": "3"}, timeout=10).status_code == 403
    assert http.post(live.url("/console/agent/login"), data={"campaign": "3", "csrf": csrf}, timeout=10).ok
    refused = http.post(live.url("/console/agent/dial"), data={"phone": "+442079460111", "csrf": csrf}, timeout=10)
    assert refused.status_code == 200  # logged in, not ready: manual dial is allowed
    assert requests.get(live.url("/console/agent/live"), timeout=10).status_code == 401
    page = http.get(live.url("/console/agent"), timeout=10)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"] and "unsafe-inline" not in page.text
    with live.db.read_session() as session:
        calls = [c for c in session.query(Call).filter(Call.agent_id == 7, Call.disposed_at.is_(None))]
    for call in calls:
        assert http.post(live.url(f"/console/agent/calls/{call.id}/dispose"),
                         data={"resultcode": "NOSALE", "csrf": csrf}, timeout=10).ok
    wrong = http.post(live.url("/console/agent/calls/999999/hold"), data={"csrf": csrf}, timeout=10)
    assert wrong.status_code == 409 and "no call 999999" in wrong.text
