"""The site the benchmarks provision: the demo site, its callback queue open round the
clock and on every day, so that the callback rows measure an accepted request whatever the
time of day the benchmark runs (the demo queue's Mon–Fri 08:00–18:00 London would make
them measure the out-of-hours refusal half the time)."""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench_site() -> dict:
    site = json.loads((REPO / "demo" / "site.json").read_text())
    for queue in site["queues"]:
        queue["opening_hours"] = {"mon-sun": "00:00-23:59:59"}
        queue["holidays"] = []
    return site
