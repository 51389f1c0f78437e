"""The customer's website for the browser tests: a page on its own origin."""
import shutil
from pathlib import Path

import pytest
from helpers.callbacks import VERSIONS, PageServer, signalr_client

PAGE = Path(__file__).with_name("customer_page.html")


@pytest.fixture(scope="module")
def website(tmp_path_factory):
    """The customer's website (its own origin), one folder per client version."""
    root = tmp_path_factory.mktemp("website")
    for version in VERSIONS:
        folder = root / version
        shutil.copytree(signalr_client(version), folder / "scripts")
        shutil.copy(PAGE, folder / "index.html")
    server = PageServer(root)
    yield server
    server.stop()
