"""The console at real volume (issue 8, D.6), in Chromium: 500 pending links and 60 calls,
paged newest first with a count, searchable, no audio player until one is asked for,
times in the user's company's zone (the server's zone for a user of no company)."""
from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from helpers.console import signed_in
from helpers.server import DEMO_SITE, start_server
from sqlalchemy import select

from storage.models import ActivityLink, Call

SERVER_ZONE = "Asia/Tokyo"
COMPANY_ZONE = "America/New_York"
LINKS = 500
CALLS = 60
FORMAT = "%Y-%m-%d %H:%M:%S"


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    site = copy.deepcopy(json.loads(DEMO_SITE.read_text()))
    site["companies"][0]["timezone"] = COMPANY_ZONE
    site["users"].append({"id": 9, "username": "carol", "full_name": "Carol Nocompany", "password": "carol-pw",
                          "extension": "202", "global_listening": False, "company": None})
    live = start_server(tmp_path_factory.mktemp("console-volume"), site=site, timezone=SERVER_ZONE)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    recorded = [live.recorded_call("201", started=now - timedelta(minutes=m)).reference for m in (10, 20, 30)]
    with live.db.session() as session:
        for i in range(LINKS):
            session.add(ActivityLink(activity_id=f"ACT-V-{i:04d}", bms_type="AMS360", data1=f"ACC-{i}",
                                     host="WS-ALICE", extension="201", state="pending",
                                     requested_at=now - timedelta(minutes=i)))
        for k in range(1, CALLS + 1):
            session.add(Call(source="cti", external_id=f"vol-{k}", direction="inbound", state="ended",
                             started_at=now - timedelta(hours=k), ended_at=now - timedelta(hours=k) + timedelta(minutes=1),
                             extension="201", did="+18005551234", duration_s=60,
                             ani="+12125550137" if k == 37 else "+13125550100"))
        session.add(Call(source="cti", external_id="carol-1", direction="inbound", state="ended",
                         started_at=now - timedelta(minutes=5), extension="202", ani="+13125550199",
                         did="+18005551234"))
    yield {"live": live, "now": now, "recorded": recorded}
    live.stop()


def _sign_in(page, live, username="alice", password="demo-alice-pw"):
    page.goto(live.url("/console/signin"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")


def test_every_pending_link_is_reachable_by_paging_and_the_first_page_is_light(busy, browser):
    live = busy["live"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        _sign_in(page, live)
        first = page.goto(live.url("/console/"))
        assert len(first.body()) < 100_000, len(first.body())
        assert page.locator("audio").count() == 0  # audio only on play
        assert page.locator("#pending-pager .count").inner_text().startswith(f"{LINKS} pending links")
        seen: list[str] = []
        pages = 0
        while True:
            pages += 1
            assert page.locator("audio").count() == 0
            seen += page.locator("#pending article.link").evaluate_all("els => els.map(e => e.dataset.activity)")
            older = page.locator("#pending-pager a.older")
            if older.count() == 0:
                break
            older.click()
            page.wait_for_load_state()
        assert pages == LINKS // 20
        assert seen == [f"ACT-V-{i:04d}" for i in range(LINKS)]  # each once, newest first
    finally:
        page.close()


def test_one_player_loads_the_recording_asked_for(busy, browser):
    live = busy["live"]
    page = browser.new_page()
    try:
        _sign_in(page, live)
        newest = page.locator("article.link[data-activity='ACT-V-0000']")
        assert newest.locator("tr.candidate").count() == 3
        reference = busy["recorded"][1]
        newest.locator(f"tr.candidate[data-reference='{reference}'] a.listen").click()
        page.wait_for_url(re.compile(r".*play=.*#player$"))
        assert page.locator("audio").count() == 1
        player = page.locator("article.link[data-activity='ACT-V-0000'] audio#player")
        assert player.get_attribute("src") == f"/console/recordings/{reference}.mp3"
        player.evaluate("el => { el.muted = true; return el.play(); }")
        page.wait_for_function("el => el.duration > 0", arg=player.element_handle(), timeout=10_000)
    finally:
        page.close()


def test_search_pending_links_by_activity_id_and_date(busy):
    live = busy["live"]
    http, _ = signed_in(live)
    html = http.get(live.url("/console/"), params={"activity": "ACT-V-0421"}).text
    assert re.findall(r'data-activity="([^"]+)"', html) == ["ACT-V-0421"]
    assert "1 pending link ·" not in html and ">1 pending link<" in html
    zone = ZoneInfo(COMPANY_ZONE)
    day = (busy["now"] - timedelta(minutes=LINKS - 1)).astimezone(zone).date()  # the oldest link's day
    with live.db.session() as session:
        stored = session.scalars(select(ActivityLink.requested_at).where(ActivityLink.activity_id.like("ACT-V-%")))
        expected = sum(1 for at in stored if at.replace(tzinfo=timezone.utc).astimezone(zone).date() == day)
    html = http.get(live.url("/console/"), params={"date": day.isoformat()}).text
    assert f"{expected} pending link" in html
    shown = re.findall(r"<dt>Requested</dt><dd>([^<]+)</dd>", html)
    assert shown and all(value.startswith(day.isoformat()) for value in shown)
    bad = http.get(live.url("/console/"), params={"date": "31/12/2026"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_calls_are_paged_newest_first_and_searchable(busy):
    live = busy["live"]
    http, _ = signed_in(live)
    zone = ZoneInfo(COMPANY_ZONE)
    first = http.get(live.url("/console/calls")).text
    total = CALLS + 3  # and the three recorded through CTI
    assert f"{total} calls" in first and "page 1 of 2" in first
    times = re.findall(r'<tr class="call" data-call="\d+">\s*<td>([^<]+)</td>', first)
    assert len(times) == 50 and times == sorted(times, reverse=True)
    second = http.get(live.url("/console/calls"), params={"page": 2}).text
    assert len(re.findall(r'<tr class="call"', second)) == total - 50
    # By phone number, however it is written.
    found = http.get(live.url("/console/calls"), params={"phone": "(212) 555-0137"}).text
    assert ">1 call<" in found and found.count('<tr class="call"') == 1 and "+12125550137" in found
    started = (busy["now"] - timedelta(hours=37)).astimezone(zone).strftime(FORMAT)
    assert f"<td>{started}</td>" in found  # in the company's zone
    # By date (a day in the company's zone).
    day = (busy["now"] - timedelta(hours=30)).astimezone(zone).date()
    with live.db.session() as session:
        stored = session.scalars(select(Call.started_at).where(Call.extension == "201"))
        expected = sum(1 for at in stored if at.replace(tzinfo=timezone.utc).astimezone(zone).date() == day)
    on_day = http.get(live.url("/console/calls"), params={"date": day.isoformat()}).text
    assert f"{expected} calls" in on_day
    assert on_day.count('<tr class="call"') == min(expected, 50)
    # Carol sees only extension 202's call, in the server's zone (she has no company).
    carol, _ = signed_in(live, "carol", "carol-pw")
    page = carol.get(live.url("/console/calls")).text
    assert ">1 call<" in page and "Times are in Asia/Tokyo." in page
    local = (busy["now"] - timedelta(minutes=5)).astimezone(ZoneInfo(SERVER_ZONE)).strftime(FORMAT)
    assert f"<td>{local}</td>" in page
