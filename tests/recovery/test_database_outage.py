"""The database away for a while (PostgreSQL refusing the server's connections): /health
says so with 503, requests fail with a plain error, and once the database is back the same
process serves again, without a restart (its pool reconnects)."""
from __future__ import annotations

import pytest
import requests
from helpers.server import start_server
from sqlalchemy import create_engine, make_url, text


@pytest.fixture
def server(tmp_path):
    server = start_server(tmp_path)
    yield server
    server.stop()


def _admit(admin, database: str, allowed: bool) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:  # and the connections open now are cut
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database})


def test_health_is_degraded_while_the_database_is_away_and_the_server_recovers(server):
    if server.db.is_sqlite:
        pytest.skip("an open SQLite file cannot be taken away from its connections; PostgreSQL's can")
    url = make_url(server.db.url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    add_link = server.url("/bluebutler/service/AddLink/id=OUTAGE-{}?host=WS-ALICE&activeCall=FALSE")
    try:
        assert requests.get(server.url("/health"), timeout=10).status_code == 200
        _admit(admin, url.database, False)
        try:
            health = requests.get(server.url("/health"), timeout=30)
            assert health.status_code == 503
            assert health.json() == {"status": "degraded", "database": "unavailable", "switch": "simulated"}
            refused = requests.get(add_link.format(1), timeout=30)
            assert refused.status_code == 500 and refused.text == "internal server error\n"
        finally:
            _admit(admin, url.database, True)
        assert requests.get(server.url("/health"), timeout=30).json()["status"] == "ok"
        linked = requests.get(add_link.format(2), timeout=30)
        assert linked.status_code == 200 and linked.text == ""  # stored as pending: no call on the line
    finally:
        admin.dispose()
