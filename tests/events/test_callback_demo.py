"""The customer's demo page /console/callbacks/demo (main port, same origin as REST; the
hub on the events port) in Chromium: it requests a callback over the seed's REST URL, the
engine executes it through the simulated switch, and the page lists every status in order;
and the console's /console/callbacks list shows new statuses without a reload."""
from __future__ import annotations

import re

import pytest
import requests
from helpers import buzzeasy
from helpers.callbacks import ENGINE, SUCCESS, new_request, record, signalr_client, stored_statuses
from helpers.server import start_server
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("callback-demo"), site=buzzeasy.site(agents=[7]),
                        events_scripts_dir=str(signalr_client("2.4.3").parent), **ENGINE)
    yield live
    live.stop()


def test_the_demo_page_requests_a_callback_over_rest_and_lists_its_statuses_to_the_end(server, browser):
    page = browser.new_page()
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    try:
        page.goto(server.url("/console/callbacks/demo"))
        # (the page's CSP forbids eval, so the test waits on selectors, not on script)
        expect(page.locator("#state")).to_have_text(re.compile("^Connected"), timeout=20000)
        page.fill("#name", "Demo Customer")
        page.fill("#phoneNo", buzzeasy.ANSWERS)
        page.fill("#password", "not the password")
        page.click("#subscribecode")
        expect(page.locator("#state")).to_have_text("Not requested: ResultCode -1.", timeout=20000)
        assert page.inner_text("#code") == ""

        page.fill("#password", buzzeasy.COMPANY_PASSWORD)
        page.click("#subscribecode")
        expect(page.locator("#state")).to_have_text("Finished.", timeout=30000)
        code = page.inner_text("#code")
        assert len(code) == 10 and code.isdigit()
        assert page.locator("#statuses li").all_inner_texts() == SUCCESS
        assert page.url == server.url("/console/callbacks/demo")  # the form did not navigate
    finally:
        page.close()
    assert stored_statuses(server.db, code) == SUCCESS
    # (jQuery 1.9 probes inline event handlers at load, which the CSP rightly blocks: harmless)
    assert not [m for m in messages if m.startswith("Refused to")], messages


def test_the_demo_page_allows_only_its_own_scripts_and_the_hub(server):
    r = requests.get(server.url("/console/callbacks/demo"), timeout=10)
    hub = server.events_url
    assert r.status_code == 200 and f'data-hub="{hub}"' in r.text and "<script>" not in r.text
    assert f"script-src 'self' {hub};" in r.headers["Content-Security-Policy"]
    r = requests.get(server.url("/console/callbacks/demo"), headers={"Host": "x;script-src *"}, timeout=10)
    assert r.status_code == 400


def test_the_console_callbacks_list_shows_new_requests_and_statuses_without_reloading(server, browser):
    page = browser.new_page()
    try:
        page.goto(server.url("/console/callbacks"))
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "demo-alice-pw")
        page.click("button[type=submit]")
        page.wait_for_url("**/console/")
        page.goto(server.url("/console/callbacks"))
        navigations = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        code = new_request(server.db)
        page.wait_for_selector(f"#cb-{code} p.empty", timeout=20000)
        record(server.db, code, *SUCCESS[:2])
        expect(page.locator(f"#cb-{code} td.status")).to_have_text(SUCCESS[:2], timeout=20000)
        record(server.db, code, *SUCCESS[2:])
        expect(page.locator(f"#cb-{code} td.status")).to_have_text(SUCCESS, timeout=20000)
        assert navigations == []  # swapped in by the page's script, not reloaded
    finally:
        page.close()


def test_the_list_fragment_needs_a_session(server):
    r = requests.get(server.url("/console/callbacks/live"), allow_redirects=False, timeout=10)
    assert r.status_code == 401
