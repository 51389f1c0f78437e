import pytest

from helpers import buzzeasy
from helpers.server import start_server


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The server with the Buzzeasy test site and a fast callback engine."""
    server = start_server(tmp_path_factory.mktemp("callsuite-data"), site=buzzeasy.site(agents=[7]),
                          **buzzeasy.FAST_ENGINE)
    yield server
    server.stop()
