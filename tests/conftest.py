import pytest

from helpers.server import start_server


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The whole server (demo site provisioned, simulated switch) for one test module."""
    server = start_server(tmp_path_factory.mktemp("callsuite-data"))
    yield server
    server.stop()
