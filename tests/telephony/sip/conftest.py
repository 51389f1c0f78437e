"""A failed SIP test carries what each SIP process logged around it. The parts are
separate processes whose logs are files, so pytest's own capture never sees them, and a
failure on a loaded CI machine is otherwise a bare timeout."""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

TAIL_BYTES = 2500
STATUS_LINE = re.compile(r"\s*\[\d+:\d\d:\d\d\] audio=\S+ \(bit/s\)")  # baresip's call timer, redrawn


@pytest.fixture(autouse=True)
def sip_driver_log_at_info(caplog):
    # The driver logs why a call failed (the SIP status) at INFO.
    caplog.set_level(logging.INFO, logger="services.telephony")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or "lab" not in item.fixturenames or getattr(item, "sip_logs_shown", False):
        return
    item.sip_logs_shown = True  # once: a failed call's teardown fails as well
    logs: list[Path] = []
    lab = item.funcargs.get("lab")
    if lab is not None:
        logs += sorted(lab.folder.glob("*.log"))
    live = item.funcargs.get("live")
    sidecar = getattr(getattr(getattr(live, "system", None), "switch", None), "_sidecar", None)
    if sidecar is not None:
        logs.append(Path(sidecar.folder) / "baresip.log")
    for path in logs:
        report.sections.append((f"{path.name} (tail, read at {time.strftime('%H:%M:%S')})", tail(path)))


def tail(path: Path) -> str:
    try:
        with open(path, "rb") as source:
            source.seek(0, 2)
            source.seek(max(0, source.tell() - TAIL_BYTES))
            return STATUS_LINE.sub("", source.read().decode(errors="replace"))
    except OSError as exc:
        return f"(unreadable: {exc})"
