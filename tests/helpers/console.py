"""Signing in to the web console (/console/) from tests, and the Chromium flags the
console's browser tests launch Debian's Chromium with."""
from __future__ import annotations

import re

import requests

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a console page."""
    return _CSRF.search(html).group(1)


def signed_in(live, username: str = "alice", password: str = "demo-alice-pw") -> tuple[requests.Session, str]:
    """A requests session signed in through the form; returns it and its CSRF token."""
    http = requests.Session()
    form = http.get(live.url("/console/signin"), timeout=10)
    r = http.post(live.url("/console/signin"), timeout=10,
                  data={"csrf": csrf_of(form.text), "username": username, "password": password})
    assert r.status_code == 200 and r.url.endswith("/console/"), r.text
    return http, csrf_of(r.text)
