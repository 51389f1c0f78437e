"""The layering is a test: the import-linter contracts in setup.cfg hold for the tree, and
fail when a forbidden import is planted in a copy of it."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "setup.cfg"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(root)})


def test_the_tree_keeps_every_layering_contract():
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("planted, broken", [
    ("services/core/_planted.py", "The domain core imports no edge"),
    ("storage/_planted.py", "Storage knows nothing of the services"),
    ("services/telephony/_planted.py", "The telephony layer imports no edge"),
    ("services/calldata/_planted.py", "No edge imports another"),
    ("services/http/_planted.py", "The web and SOAP plumbing imports no edge"),
])
def test_a_planted_violation_breaks_its_contract(tmp_path, planted, broken):
    for name in ("services", "storage", "setup.cfg"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / planted).write_text("from services.recording import bluebutler  # noqa: F401\n"
                                    if not planted.startswith("services/core/")
                                    else "import werkzeug  # noqa: F401\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout
