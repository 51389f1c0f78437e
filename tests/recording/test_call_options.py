"""The call options page of the console (/console/calls/<id>): the reviewed flag, sales
status and journal that Callbutton's call detail report (seed 002) carries "as specified
manually in the options page". Over real HTTP: alice sets them on her call and a partner's
report shows them; listening rights, CSRF and validation apply. In Chromium: from the
recent-calls list to the saved notice. And services.core.calloptions on its own."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import xmlschema
from helpers.audio import tone_mp3
from helpers.callbutton import request_doc
from helpers.console import csrf_of, signed_in
from helpers.server import REPO, start_server
from lxml import etree
from sqlalchemy import select, update

from services.core import calloptions, ledger
from services.core.errors import Forbidden, InvalidInput, NotFound
from storage.models import Call, User

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ZONE = "America/Chicago"  # the server's zone; the console shows alice's company's
COMPANY_ZONE = "Europe/London"
PARTNER = ("partner1", "demo-partner-pw")
JOURNAL = "Called back on Tuesday.\r\nSold the <Gold> plan & the add-on.\r\n\r\n\tFollow up in May ✓\r\n"
counter = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("call-options-data"), timezone=ZONE)
    yield live
    live.stop()


def call_id_of(live, external_id: str) -> int:
    with live.db.session() as session:
        return session.scalar(select(Call.id).where(Call.external_id == external_id))


def recorded_call(live, extension: str, started: datetime, audio: bytes) -> int:
    return call_id_of(live, live.recorded_call(extension, started=started, talk_s=3.0, audio=audio).call_id)


def unrecorded_call(live, extension: str, started: datetime) -> int:
    external = f"options-{next(counter)}"
    with live.db.session() as session:
        ledger.apply_event(session, ledger.CallEvent("call.started", "cti", external, started, extension=extension,
                                                     direction="outbound", target="+13125550199", record=False))
        ledger.apply_event(session, ledger.CallEvent("call.ended", "cti", external, started + timedelta(seconds=20),
                                                     result="No Answer"))
    return call_id_of(live, external)


@pytest.fixture(scope="module")
def scene(server):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    audio = tone_mp3(3.0)
    calls = {"mine": recorded_call(server, "201", now - timedelta(minutes=10), audio),
             "invalid": recorded_call(server, "201", now - timedelta(minutes=9), audio),
             "browser": recorded_call(server, "201", now - timedelta(minutes=8), audio),
             "other": recorded_call(server, "299", now - timedelta(minutes=7), audio),
             "bare": unrecorded_call(server, "201", now - timedelta(minutes=6))}
    with server.db.session() as session:
        session.execute(update(Call).where(Call.id == calls["other"]).values(journal="secret notes of 299"))
    return {**calls, "started": now - timedelta(minutes=10)}


def options(live, call_id: int) -> tuple[bool, str | None, str | None]:
    with live.db.session() as session:
        call = session.get(Call, call_id)
        return call.reviewed, call.sales_status, call.journal


def partner_report(live) -> dict[str, etree._Element]:
    body = request_doc('<ClientCode status="true">8005551234</ClientCode>', start="", end="")
    r = requests.post(live.url("/cb/main/jsp/xml/xml.jsp"), data=body, auth=PARTNER, timeout=30,
                      headers={"Content-Type": "text/xml"})
    assert r.status_code == 200, r.text
    xmlschema.XMLSchema10(str(REPO / "xsd" / "callbutton.xsd")).validate(r.content)
    root = etree.fromstring(r.content)
    return {c.get("ID"): c for c in root.iterfind("CallbuttonService/GetCallDetailsResponse/Client/CallDetails/Call")}


def test_alice_sets_the_options_and_the_partner_report_shows_them(server, scene):
    call_id = scene["mine"]
    before = partner_report(server)[str(call_id)]
    assert (before.findtext("ReviewedStatus"), before.findtext("SalesStatus"), before.findtext("Journal")) == \
        ("Unreviewed", "", "")

    alice, _ = signed_in(server)
    page = alice.get(server.url(f"/console/calls/{call_id}"))
    assert page.status_code == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    local = scene["started"].astimezone(ZoneInfo(COMPANY_ZONE)).strftime("%Y-%m-%d %H:%M:%S")
    assert f'<dd class="time">{local}</dd>' in page.text and '<dd class="extension">201</dd>' in page.text
    assert '<dd class="calling">+13125550100</dd>' in page.text and '<dd class="result">Connected</dd>' in page.text
    reference = re.search(r'<audio controls preload="metadata" src="/console/recordings/(\d+)\.mp3">',
                          page.text).group(1)
    assert alice.get(server.url(f"/console/recordings/{reference}.mp3")).status_code == 200

    form = {"csrf": csrf_of(page.text), "reviewed": "1", "sales_status": "Made sale", "journal": JOURNAL + "\x00"}
    r = alice.post(server.url(f"/console/calls/{call_id}"), data=form, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == f"/console/calls/{call_id}?saved=1"
    assert options(server, call_id) == (True, "Made sale", JOURNAL)  # NUL dropped, CR/LF kept

    shown = alice.get(server.url(r.headers["Location"])).text
    assert '<p class="notice" role="status" id="notice">Call options saved.</p>' in shown
    assert 'id="reviewed" checked>' in shown and '<option value="Made sale" selected>' in shown
    assert ">\n" + JOURNAL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "</textarea>" in shown

    after = partner_report(server)[str(call_id)]
    assert (after.findtext("ReviewedStatus"), after.findtext("SalesStatus")) == ("Reviewed", "Made sale")
    assert after.findtext("Journal") == JOURNAL  # carriage returns and line feeds survive

    # Clearing them again: unchecked, empty status, empty journal.
    r = alice.post(server.url(f"/console/calls/{call_id}"), data={"csrf": form["csrf"], "sales_status": "",
                                                                  "journal": ""}, allow_redirects=False)
    assert r.status_code == 303 and options(server, call_id) == (False, None, None)
    alice.post(server.url(f"/console/calls/{call_id}"), data=form)  # and back, for the report
    assert options(server, call_id) == (True, "Made sale", JOURNAL)


def test_listening_rights_decide_who_sees_and_changes_a_call(server, scene):
    alice, csrf = signed_in(server)
    other = scene["other"]  # extension 299
    r = alice.get(server.url(f"/console/calls/{other}"))
    assert r.status_code == 403 and "You may not see that call." in r.text and "secret notes" not in r.text
    r = alice.post(server.url(f"/console/calls/{other}"), data={"csrf": csrf, "reviewed": "1",
                                                               "sales_status": "Made sale", "journal": "mine now"})
    assert r.status_code == 403 and options(server, other) == (False, None, "secret notes of 299")
    # Nor does a bad value tell her anything about it.
    r = alice.post(server.url(f"/console/calls/{other}"), data={"csrf": csrf, "sales_status": "nonsense"})
    assert r.status_code == 403
    for method in (alice.get, alice.post):
        r = method(server.url("/console/calls/987654"), data={"csrf": csrf})
        assert r.status_code == 404 and "No such call." in r.text
    # Her own call without a recording: the extension rule.
    bare = alice.get(server.url(f"/console/calls/{scene['bare']}"))
    assert bare.status_code == 200 and "Not recorded." in bare.text and "<audio" not in bare.text
    # The recent-calls list links her calls to their options pages, and only hers.
    home = alice.get(server.url("/console/")).text
    assert f'<a class="call-options" href="/console/calls/{scene["mine"]}">' in home
    assert f'href="/console/calls/{other}"' not in home
    # The BMS account (global listening) sees and changes any call.
    bms, bms_csrf = signed_in(server, "bms", "demo-bms-pw")
    page = bms.get(server.url(f"/console/calls/{other}"))
    assert page.status_code == 200 and "secret notes of 299" in page.text
    r = bms.post(server.url(f"/console/calls/{other}"), allow_redirects=False,
                 data={"csrf": csrf_of(page.text), "reviewed": "on", "sales_status": "Called back",
                       "journal": "secret notes of 299"})
    assert r.status_code == 303 and options(server, other) == (True, "Called back", "secret notes of 299")


def test_a_post_without_the_csrf_token_is_refused(server, scene):
    call_id = scene["invalid"]
    form = {"reviewed": "1", "sales_status": "Made sale", "journal": "forged"}
    alice, csrf = signed_in(server)
    assert alice.post(server.url(f"/console/calls/{call_id}"), data=form).status_code == 403
    assert alice.post(server.url(f"/console/calls/{call_id}"), data={**form, "csrf": "0" * 64}).status_code == 403
    bms, bms_csrf = signed_in(server, "bms", "demo-bms-pw")  # another session's token is no good either
    assert alice.post(server.url(f"/console/calls/{call_id}"), data={**form, "csrf": bms_csrf}).status_code == 403
    r = requests.post(server.url(f"/console/calls/{call_id}"), data={**form, "csrf": csrf}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"  # no session at all
    r = requests.get(server.url(f"/console/calls/{call_id}"), allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
    assert options(server, call_id) == (False, None, None)


def test_a_bad_sales_status_shows_the_form_again_and_changes_nothing(server, scene):
    call_id = scene["invalid"]
    alice, csrf = signed_in(server)
    r = alice.post(server.url(f"/console/calls/{call_id}"),
                   data={"csrf": csrf, "reviewed": "1", "sales_status": "Sold <b>!</b>", "journal": "keep <me>"})
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert '<p class="error" role="alert" id="error">sales status must be empty' in r.text
    assert '<form method="post" action="/console/calls/%d"' % call_id in r.text
    assert ">\nkeep &lt;me&gt;</textarea>" in r.text and 'id="reviewed" checked>' in r.text  # as she typed it
    assert "<b>" not in r.text
    r = alice.post(server.url(f"/console/calls/{call_id}"),
                   data={"csrf": csrf, "reviewed": "maybe", "sales_status": "", "journal": "x"})
    assert r.status_code == 400 and "reviewed must be checked or not" in r.text
    r = alice.post(server.url(f"/console/calls/{call_id}"),
                   data={"csrf": csrf, "sales_status": "", "journal": "x" * (calloptions.MAX_JOURNAL + 1)})
    assert r.status_code == 400 and "at most 20000 are allowed" in r.text
    assert options(server, call_id) == (False, None, None)


def test_set_call_options_in_the_domain(server, scene):
    with server.db.session() as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        stranger = User(id=99, username="stranger", password_hash="-", extension="299", global_listening=False)
        call = calloptions.set_call_options(session, alice, scene["bare"], reviewed=True, sales_status="Called back",
                                            journal="a\rb\nc\r\n\x00\x0b\ufffe" + "y" * (calloptions.MAX_JOURNAL - 7))
        assert (call.reviewed, call.sales_status) == (True, "Called back")
        assert call.journal == "a\rb\nc\r\n" + "y" * (calloptions.MAX_JOURNAL - 7)  # exactly at the limit
        with pytest.raises(Forbidden):
            calloptions.set_call_options(session, stranger, scene["bare"], reviewed=False, sales_status=None,
                                         journal=None)
        with pytest.raises(Forbidden):  # a call with a recording: may_listen's rule
            calloptions.set_call_options(session, alice, scene["other"], reviewed=False, sales_status=None,
                                         journal=None)
        with pytest.raises(NotFound):
            calloptions.set_call_options(session, alice, 987654, reviewed=False, sales_status=None, journal=None)
        for bad in ({"sales_status": "made sale"}, {"sales_status": " Made sale"}, {"reviewed": "yes"},
                    {"journal": "z" * (calloptions.MAX_JOURNAL + 1)}):
            arguments = {"reviewed": False, "sales_status": "", "journal": None, **bad}
            with pytest.raises(InvalidInput):
                calloptions.set_call_options(session, alice, scene["bare"], **arguments)
    assert options(server, scene["bare"])[:2] == (True, "Called back")


def test_options_page_in_the_browser(server, scene, browser):
    call_id = scene["browser"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(server.url("/console/signin"))
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "demo-alice-pw")
        page.click("button[type=submit]")
        page.wait_for_url("**/console/")
        page.click(f"#calls tr.call[data-call='{call_id}'] a.call-options")
        page.wait_for_url(f"**/console/calls/{call_id}")
        assert page.locator("#call .extension").inner_text() == "201"
        assert page.locator("#call audio").count() == 1
        page.check("#reviewed")
        page.select_option("#sales-status", "Called back")
        page.fill("#journal", "Left a voicemail.\nCalled back at 3pm.")
        page.click("#save")
        page.wait_for_url(f"**/console/calls/{call_id}?saved=1")
        assert page.locator("#notice").inner_text() == "Call options saved."
        assert page.is_checked("#reviewed") and page.input_value("#sales-status") == "Called back"
        assert page.input_value("#journal") == "Left a voicemail.\nCalled back at 3pm."
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-call-options.png"), full_page=True)
    finally:
        page.close()
    assert dialogs == []
    # The browser sends the textarea's line breaks as CRLF; they are kept as sent.
    assert options(server, call_id) == (True, "Called back", "Left a voicemail.\r\nCalled back at 3pm.")
