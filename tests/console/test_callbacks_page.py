"""The console's callbacks page: the signed-in user's company's requests with state,
attempts, next attempt and status history; nothing without a session; nothing of another
company; request data rendered as text."""
import re

import requests
from helpers import buzzeasy as b
from helpers.buzzeasy import rest, statuses, wait_for
from helpers.console import signed_in

XSS = "<script>alert(1)</script>"

live = b.live  # the fixture: a module-scoped Buzzeasy server


def make(live, phone, company="1", queue="1", password=b.COMPANY_PASSWORD, **fields):
    answer = rest(live, "RequestCallWhenAvailable", {"name": "Console " + XSS, "phoneNo": phone,
                                                     "serviceQueue": queue, "company": company,
                                                     "password": password, **fields}).json()
    assert answer["ResultCode"] == 0
    return answer["ConfirmationCode"]


def article(html: str, code: str) -> str:
    match = re.search(rf'<article class="callback-request" id="cb-{code}".*?</article>', html, re.S)
    assert match, f"request {code} not shown"
    return match.group(0)


def test_requests_with_state_next_attempt_and_history(live):
    done = make(live, b.ANSWERS, field1=XSS)
    wait_for(lambda: "CallSucceeded" in statuses(live, done))
    retrying = make(live, b.NO_ANSWER)
    wait_for(lambda: "Rescheduled" in statuses(live, retrying) and b.request_row(live, retrying).state == "open")
    other_company = make(live, b.ANSWERS, company="2", queue="3", password="other-pw")
    http, _ = signed_in(live)  # alice, company 1
    page = http.get(live.url("/console/callbacks"), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    shown = article(page.text, done)
    assert 'data-state="succeeded"' in shown
    assert re.findall(r'<td class="status">(\w+)</td>', shown) == [
        "CallingUser", "UserConnected", "CallingAgent", "AgentConnected", "CallAccepted", "CallSucceeded"]
    assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    # The retrying request, as long as it waits for its next attempt, shows when that is.
    shown = article(page.text, retrying)
    if 'data-state="open"' in shown:
        assert 'class="next-attempt"' in shown
    assert "Rescheduled" in shown
    assert f"cb-{other_company}" not in page.text
    assert 'href="/console/callbacks"' in http.get(live.url("/console/"), timeout=10).text
    wait_for(lambda: b.request_row(live, retrying).state == "failed")
    failed = http.get(live.url("/console/callbacks"), params={"state": "failed"}, timeout=10).text
    assert f"cb-{retrying}" in failed and f"cb-{done}" not in failed


def test_no_session_no_page(live):
    r = requests.get(live.url("/console/callbacks"), allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
