"""The baresip sidecar's start: a baresip that exits at once (a port found free was taken
before it bound it) is started again on other ports, a few times, then given up on with
the reason. The baresip here is the real one behind a wrapper that exits instead of
starting it the first times it is run."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from services.telephony.sip.ctrl import ControlError
from services.telephony.sip.sidecar import Sidecar


def flaky_baresip(folder: Path, exits: int) -> Path:
    """An executable that exits with 1 on its first `exits` runs and is baresip after."""
    baresip = shutil.which("baresip")
    assert baresip, "baresip is needed (Debian: baresip-core); .ci/run installs it"
    script = folder / "flaky-baresip"
    script.write_text(
        "#!/bin/sh\n"
        f'runs=$(cat "{folder}/runs" 2>/dev/null || echo 0)\n'
        f'echo $((runs + 1)) > "{folder}/runs"\n'
        f'[ "$runs" -ge {exits} ] || exit 1\n'
        f'exec "{baresip}" "$@"\n')
    script.chmod(0o755)
    return script


def runs(folder: Path) -> int:
    return int((folder / "runs").read_text())


def test_a_sidecar_that_exits_at_start_is_started_again(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="services.telephony.sip.sidecar")
    sidecar = Sidecar(str(flaky_baresip(tmp_path, exits=2)), tmp_path / "media", on_event=lambda event: None)
    try:
        sidecar.start(attempts=3)
        assert sidecar.alive()
        assert "home@127.0.0.1" in sidecar.command("reginfo", check=False)  # its control port answers
    finally:
        sidecar.stop()
    assert runs(tmp_path) == 3
    retried = [r for r in caplog.records if "baresip exited at start" in r.getMessage()]
    assert len(retried) == 2


def test_a_sidecar_that_keeps_exiting_is_given_up_with_the_reason(tmp_path):
    sidecar = Sidecar(str(flaky_baresip(tmp_path, exits=99)), tmp_path / "media", on_event=lambda event: None)
    with pytest.raises(ControlError, match=r"baresip exited at start \(code 1\); see baresip.log"):
        sidecar.start(attempts=3)
    assert runs(tmp_path) == 3
    assert not sidecar.alive()
