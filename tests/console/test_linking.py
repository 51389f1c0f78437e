"""The web console (CONTRACTS §7) in a real browser (Debian's Chromium through Playwright):
sign in, see a pending AddLink with its candidate recording, play it, link it; and over
plain HTTP: no access without a session, no POST without the CSRF token, no listening to
another extension's recordings, BMS data rendered as text (no XSS)."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from helpers.console import csrf_of, signed_in
from helpers.server import start_server
from sqlalchemy import select

from storage.models import ActivityLink, AuthToken, CallbackEvent, CallbackRequest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SERVER_ZONE = "America/Chicago"  # the server's `timezone`, for users of no company
ZONE = "Europe/London"  # alice's company's zone (demo site): the console shows times in it
XSS_ID = "<script>alert(1)</script>"
XSS_DATA = '"><img src=x onerror=alert(2)>'
counter = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("console-data"), timezone=SERVER_ZONE)
    yield live
    live.stop()


def add_pending_link(live, activity: str, **params) -> None:
    # The generic GET takes any id (the seed path cannot carry a "/"); activeCall=false.
    r = requests.get(live.url("/rest/recording/AddLink"),
                     params={"id": activity, "host": "WS-ALICE", "activeCall": "false", **params}, timeout=10)
    assert r.status_code == 200 and r.json() is None, r.text


@pytest.fixture(scope="module")
def scene(server):
    """Alice's pending link with a candidate recording on 201, a recording on another
    extension, and a pending link whose BMS data is hostile."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    started = now - timedelta(minutes=10)
    reference = server.recorded_call("201", started=started, talk_s=3.0).reference
    other = server.recorded_call("299", started=now - timedelta(minutes=8)).reference
    add_pending_link(server, "ACT-CONSOLE-1", type="AMS360", data1="ACC-9", data2="POL-7")
    add_pending_link(server, XSS_ID, type="EZLynx", data1=XSS_DATA)
    add_pending_link(server, "ACT-CONSOLE-CSRF")
    return {"reference": reference, "started": started, "other": other}


def test_sign_in_play_and_link_in_the_browser(server, scene, browser):
    reference = scene["reference"]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(server.url("/console/"))
        assert page.url.endswith("/console/signin")  # refused without a session

        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "not-her-password")
        page.click("button[type=submit]")
        assert page.locator("#signin-error").inner_text() == "Wrong username or password."

        page.fill("input[name=password]", "demo-alice-pw")
        page.click("button[type=submit]")
        page.wait_for_url("**/console/")
        assert "Alice Agent (alice, extension 201)" in page.locator(".who").inner_text()

        # The pending link with its BMS data, and its candidate recording.
        link = page.locator("article.link[data-activity='ACT-CONSOLE-1']")
        assert link.locator(".type").inner_text() == "AMS360"
        assert link.locator(".data1").inner_text() == "ACC-9" and link.locator(".data2").inner_text() == "POL-7"
        row = link.locator(f"tr.candidate[data-reference='{reference}']")
        local = scene["started"].astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")
        assert row.locator("td").nth(0).inner_text() == local
        assert [row.locator("td").nth(i).inner_text() for i in (1, 2, 3)] == ["+13125550100", "+18005551234", "0:03"]

        # Hostile BMS data is shown as text, never run.
        hostile = page.locator("article.link", has=page.locator("code.activity-id", has_text="alert(1)"))
        assert hostile.locator("code.activity-id").inner_text() == XSS_ID
        assert hostile.locator(".data1").inner_text() == XSS_DATA
        assert page.locator("img[src=x]").count() == 0 and page.locator("main script").count() == 0

        # No player until one is asked for; then one, and the browser loads the MP3 and plays it.
        assert page.locator("audio").count() == 0
        row.locator("a.listen").click()
        page.wait_for_url(re.compile(rf".*/console/\?.*play=\d+%3A{reference}#player$"))
        assert page.locator("audio").count() == 1
        row = page.locator("article.link[data-activity='ACT-CONSOLE-1']").locator(
            f"tr.candidate[data-reference='{reference}']")
        audio = row.locator("audio#player")
        audio.click()  # a user gesture, so play() is allowed
        audio.evaluate("el => { el.muted = true; return el.play(); }")
        handle = audio.element_handle()
        page.wait_for_function("el => el.duration > 0 && (el.currentTime > 0 || el.ended)", arg=handle,
                               timeout=10_000)
        assert 2.5 < handle.evaluate("el => el.duration") < 3.5
        assert handle.evaluate("el => el.error") is None
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-pending.png"), full_page=True)

        # Link it: it leaves the pending list and shows as linked.
        row.locator("button.link-button").click()
        page.wait_for_url(re.compile(r".*/console/\?linked=\d+$"))
        assert page.locator("#notice").inner_text() == \
            f"Activity ACT-CONSOLE-1 is linked to recording {reference}."
        assert page.locator("article.link[data-activity='ACT-CONSOLE-1']").count() == 0
        linked = page.locator(f"#linked tr.linked[data-activity='ACT-CONSOLE-1'][data-reference='{reference}']")
        assert linked.locator("td").last.inner_text() == "alice"
        page.screenshot(path=str(ARTIFACTS / "console-linked.png"), full_page=True)

        page.click("#signout")
        page.wait_for_url("**/console/signin")
        page.goto(server.url("/console/"))
        assert page.url.endswith("/console/signin")
    finally:
        page.close()
    assert dialogs == []
    with server.db.session() as session:
        link = session.scalar(select(ActivityLink).where(ActivityLink.activity_id == "ACT-CONSOLE-1"))
        assert (link.state, link.recording.reference, link.linked_by) == ("linked", reference, "alice")
        assert link.linked_at is not None


def test_the_session_cookie_and_stored_token(server, scene):
    http = requests.Session()
    form = http.get(server.url("/console/signin"))
    csrf = csrf_of(form.text)
    r = http.post(server.url("/console/signin"), allow_redirects=False,
                  data={"csrf": csrf, "username": "alice", "password": "demo-alice-pw"})
    assert r.status_code == 303 and r.headers["Location"] == "/console/"
    cookie = next(c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("callsuite_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    token = http.cookies["callsuite_console"]
    with server.db.session() as session:
        rows = session.scalars(select(AuthToken).where(AuthToken.user_id == 7)).all()
    assert rows and all(token not in row.token_hash for row in rows)  # only a hash is stored
    assert all(row.expires_at > datetime.now(timezone.utc) for row in rows)
    page = http.get(server.url("/console/"))
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_no_access_without_a_session(server, scene):
    r = requests.get(server.url("/console/"), allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
    r = requests.get(server.url("/console/recordings/{}.mp3".format(scene["reference"])))
    assert r.status_code == 401 and r.headers["Content-Type"].startswith("text/plain")
    r = requests.post(server.url("/console/link"), data={"link": "1", "reference": scene["reference"]},
                      allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
    r = requests.get(server.url("/console/"), cookies={"callsuite_console": "forged"}, allow_redirects=False)
    assert r.status_code == 303


def test_a_post_without_the_csrf_token_is_refused(server, scene):
    http, csrf = signed_in(server)
    page = http.get(server.url("/console/")).text
    link_id = re.search(r'id="link-(\d+)" data-activity="ACT-CONSOLE-CSRF"', page).group(1)
    form = {"link": link_id, "reference": scene["reference"]}
    assert http.post(server.url("/console/link"), data=form).status_code == 403
    assert http.post(server.url("/console/link"), data={**form, "csrf": "0" * 64}).status_code == 403
    assert http.post(server.url("/console/signout"), data={}).status_code == 403
    fresh = requests.Session()  # nor the sign-in form without its token
    assert fresh.post(server.url("/console/signin"),
                      data={"username": "alice", "password": "demo-alice-pw"}).status_code == 403
    with server.db.session() as session:
        assert session.scalar(select(ActivityLink.state)
                              .where(ActivityLink.activity_id == "ACT-CONSOLE-CSRF")) == "pending"
    assert http.get(server.url("/console/"), allow_redirects=False).status_code == 200  # still signed in
    r = http.post(server.url("/console/signout"), data={"csrf": csrf}, allow_redirects=False)
    assert r.status_code == 303
    assert http.get(server.url("/console/"), allow_redirects=False).status_code == 303


def test_listening_rights_apply_to_console_playback(server, scene):
    alice, csrf = signed_in(server)
    other = scene["other"]  # a call on extension 299
    assert alice.get(server.url(f"/console/recordings/{other}.mp3")).status_code == 403
    assert alice.get(server.url("/console/recordings/0000000000.mp3")).status_code == 404
    mine = alice.get(server.url("/console/recordings/{}.mp3".format(scene["reference"])), headers={"Range": "bytes=0-99"})
    assert mine.status_code == 206 and len(mine.content) == 100 and mine.headers["Content-Type"] == "audio/mpeg"
    assert mine.headers["Accept-Ranges"] == "bytes" and mine.headers["ETag"]
    # Nor can she link another extension's recording to her activity.
    page = alice.get(server.url("/console/")).text
    link_id = re.search(r'id="link-(\d+)" data-activity="ACT-CONSOLE-CSRF"', page).group(1)
    r = alice.post(server.url("/console/link"), data={"csrf": csrf, "link": link_id, "reference": other})
    assert r.status_code == 403 and "You may not use that recording." in r.text
    # The BMS account (global listening) may listen to both and sees every pending link.
    bms, _ = signed_in(server, "bms", "demo-bms-pw")
    assert bms.get(server.url(f"/console/recordings/{other}.mp3")).status_code == 200
    assert "ACT-CONSOLE-CSRF" in bms.get(server.url("/console/")).text


def test_hostile_bms_data_is_escaped_in_the_html(server, scene):
    alice, _ = signed_in(server)
    html = alice.get(server.url("/console/")).text
    assert XSS_ID not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html


def test_recent_callback_requests_show_their_latest_status(server, scene):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with server.db.session() as session:
        request = CallbackRequest(confirmation_code="4207351986", pin="351986", company_id=1, queue_id=1,
                                  name="Dana <Customer>", phone_e164="+442079460000", asap=True,
                                  requested_at=now - timedelta(minutes=2), state="calling")
        request.events = [CallbackEvent(status="Queued", at=now - timedelta(minutes=2)),
                          CallbackEvent(status="CallingUser", at=now - timedelta(minutes=1))]
        session.add(request)
    alice, _ = signed_in(server)
    html = alice.get(server.url("/console/")).text
    section = html[html.index('id="callbacks"'):]
    row = re.search(r'<tr class="callback">(.*?)</tr>', section, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    def local(t):
        return t.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")
    assert cells == [local(now - timedelta(minutes=2)), "4207351986", "Dana &lt;Customer&gt;", "+442079460000",
                     "Claims", "ASAP", "calling", f"CallingUser ({local(now - timedelta(minutes=1))})"]
