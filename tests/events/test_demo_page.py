"""The demo page /events/demo: the seed's snippet as a vendor gives it to a customer,
with jQuery and the SignalR client served from an npm-installed folder."""
from __future__ import annotations

import requests
from helpers.callbacks import SUCCESS, new_request, record, signalr_client
from helpers.server import start_server


def test_the_demo_page_follows_a_callback_to_its_end(tmp_path, browser):
    npm_prefix = signalr_client("2.4.3").parent
    live = start_server(tmp_path, events_scripts_dir=str(npm_prefix))
    page = browser.new_page()
    try:
        page.goto(live.events_url + "/events/demo")
        page.wait_for_function("document.getElementById('state').textContent.indexOf('Connected') === 0",
                               timeout=20000)
        code = new_request(live.db)
        record(live.db, code, *SUCCESS[:3])
        page.fill("#code", code)
        page.click("#subscribecode")
        page.wait_for_function("document.querySelectorAll('#statuses li').length >= 3", timeout=20000)
        record(live.db, code, *SUCCESS[3:])
        page.wait_for_function("document.getElementById('state').textContent === 'Finished.'", timeout=20000)
        assert page.locator("#statuses li").all_inner_texts() == SUCCESS
    finally:
        page.close()
        live.stop()


def test_without_a_scripts_folder_the_scripts_are_404_with_the_way_to_install_them(live):
    r = requests.get(live.events_url + "/events/scripts/jquery.signalR.min.js", timeout=10)
    assert r.status_code == 404 and "events_scripts_dir" in r.text
    assert requests.get(live.events_url + "/events/scripts/other.js", timeout=10).status_code == 404
