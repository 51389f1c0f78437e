"""The seed's page, unmodified but for the hub URL, in headless Chromium: the jQuery
SignalR clients from the npm registry (2.2.1, the oldest published, and 2.4.3) with
jQuery 1.9.1, on a page from another origin, follow one callback request to its end."""
from __future__ import annotations

import pytest
from helpers import buzzeasy
from helpers.callbacks import (
    ENGINE,
    SUCCESS,
    VERSIONS,
    finish,
    follow,
    new_request,
    open_page,
    record,
    request_callback,
    stored_statuses,
)
from helpers.relay import Relay
from helpers.server import start_server


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("engine"), site=buzzeasy.site(agents=[7]), **ENGINE)
    yield server
    server.stop()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_late_subscriber_gets_the_history_then_every_status_in_order_then_closeconnection(
        live, browser, website, version):
    code = new_request(live.db)
    record(live.db, code, *SUCCESS[:2])  # before the customer subscribes
    page = open_page(browser, website, version, live.events_url)
    try:
        # The server offers no WebSockets, so the client's first choice is server-sent events.
        assert page.evaluate("started") == "serverSentEvents"
        follow(page, code)
        page.wait_for_function("received.length >= 2", timeout=20000)
        record(live.db, code, *SUCCESS[2:])
        assert finish(page) == [f"{code} {status}" for status in SUCCESS]
        assert page.evaluate("connection.state") == 4  # disconnected: the page stopped on closeConnection
    finally:
        page.close()
    assert stored_statuses(live.db, code) == SUCCESS


@pytest.mark.parametrize("version", VERSIONS)
def test_long_polling_delivers_the_same_sequence(live, browser, website, version):
    code = new_request(live.db)
    page = open_page(browser, website, version, live.events_url, transport="longPolling")
    try:
        assert page.evaluate("started") == "longPolling"
        follow(page, code)
        for status in SUCCESS:
            record(live.db, code, status)
        assert finish(page) == [f"{code} {status}" for status in SUCCESS]
    finally:
        page.close()


def test_jsonp_long_polling_for_pages_that_turn_cors_off(live, browser, website):
    code = new_request(live.db)
    record(live.db, code, *SUCCESS[:3])
    page = open_page(browser, website, "2.2.1", live.events_url, transport="longPolling", jsonp="1")
    try:
        assert page.evaluate("started") == "longPolling"
        assert page.evaluate("connection.ajaxDataType") == "jsonp"
        follow(page, code)
        page.wait_for_function("received.length >= 3", timeout=20000)
        record(live.db, code, *SUCCESS[3:])
        assert finish(page) == [f"{code} {status}" for status in SUCCESS]
    finally:
        page.close()


def test_an_unknown_code_fails_the_invocation_and_delivers_nothing(live, browser, website):
    page = open_page(browser, website, "2.4.3", live.events_url)
    try:
        follow(page, "0000000001")
        page.wait_for_function("errors.length", timeout=20000)
        assert page.evaluate("errors") == ["invoke: Unknown confirmation code."]
        assert page.evaluate("received") == []
    finally:
        page.close()


@pytest.mark.parametrize("transport", ["serverSentEvents", "longPolling"])
def test_a_client_cut_off_mid_sequence_reconnects_and_receives_what_it_missed(live, browser, website, transport):
    relay = Relay("127.0.0.1", live.system.events_server.port)
    code = new_request(live.db)
    page = open_page(browser, website, "2.4.3", relay.url, transport=transport)
    try:
        follow(page, code)
        record(live.db, code, *SUCCESS[:2])
        page.wait_for_function("received.length >= 2", timeout=20000)
        relay.cut()
        record(live.db, code, *SUCCESS[2:4])  # while the customer's network is down
        page.wait_for_function("connection.state === $.signalR.connectionState.reconnecting", timeout=20000)
        relay.restore()
        page.wait_for_function("reconnects >= 1", timeout=30000)
        record(live.db, code, *SUCCESS[4:])
        assert finish(page, network_errors=True) == [f"{code} {status}" for status in SUCCESS]
        assert relay.resets > 0
    finally:
        page.close()
        relay.stop()


def test_a_modern_page_uses_eventsource_across_origins_with_credentials(live, browser, website):
    code = new_request(live.db)
    record(live.db, code, *SUCCESS[:2])
    page = browser.new_page()
    try:
        page.goto(f"{website.url}/2.4.3/index.html?hub={live.events_url}")
        page.evaluate("""([url]) => {
            window.sse = [];
            const source = new EventSource(url, {withCredentials: true});
            source.addEventListener("status", e => sse.push([e.lastEventId, JSON.parse(e.data).status]));
            source.addEventListener("end", () => { sse.push("end"); source.close(); });
        }""", [f"{live.events_url}/events/callbacks/{code}"])
        page.wait_for_function("sse.length >= 2", timeout=20000)
        ids = record(live.db, code, *SUCCESS[2:])
        page.wait_for_function("sse[sse.length - 1] === 'end'", timeout=20000)
        received = page.evaluate("sse")
        assert [status for _, status in received[:-1]] == SUCCESS
        assert [int(event_id) for event_id, _ in received[2:-1]] == ids
    finally:
        page.close()


FAILED = ["CallingUser", "CallingUserFailed", "Rescheduled", "CallingUser", "CallingUserFailed", "CallFailed"]


@pytest.mark.parametrize("version, phone, expected", [("2.2.1", buzzeasy.ANSWERS, SUCCESS),
                                                      ("2.4.3", buzzeasy.BUSY, FAILED)],
                         ids=["2.2.1-succeeds", "2.4.3-busy-fails"])
def test_a_callback_executed_through_the_simulated_switch_reaches_the_page_in_order(engine, browser, website,
                                                                                   version, phone, expected):
    page = open_page(browser, website, version, engine.events_url)
    try:
        code = request_callback(engine, phone)  # the engine starts on it at once
        follow(page, code)
        received = finish(page)
    finally:
        page.close()
    assert received == [f"{code} {status}" for status in expected]
    assert buzzeasy.statuses(engine, code) == expected
