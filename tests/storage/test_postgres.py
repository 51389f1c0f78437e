"""The same server on PostgreSQL (--database-url): migrations, provisioning, the ledger."""
import subprocess
import sys

import pytest
import requests
from helpers.postgres import PostgresServer
from helpers.server import DEMO_SITE, REPO, start_server
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.models import Call


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


def test_provision_and_calls_on_postgresql(postgres, tmp_path):
    url = postgres.create_database("callsuite_ledger")
    for expected in ("created", "0 created, 0 changed"):
        result = subprocess.run([sys.executable, "-m", "services.cli", "provision", "--database-url", url,
                                 "--data-dir", str(tmp_path), str(DEMO_SITE)],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout
    live = start_server(tmp_path, database_url=url)
    try:
        assert requests.get(live.url("/health")).json()["database"] == "ok"
        assert live.cti({"event": "call.started", "call_id": "pg-1", "at": "2026-11-20T14:00:00+01:00",
                         "extension": "201", "ani": "3125550142"}).status_code == 201
        assert live.cti({"event": "call.answered", "call_id": "pg-1", "at": "2026-11-20T13:00:04Z"}).ok
        assert live.cti({"event": "call.ended", "call_id": "pg-1", "at": "2026-11-20T13:01:04Z"}).ok
        r = requests.get(live.url("/bluebutler/service/AddLink/id=PG-1"), params={"host": "WS-ALICE", "activeCall": "true"})
        assert r.text == "No Active Call"
        with live.db.session() as session:
            call = session.scalar(select(Call).options(selectinload(Call.recording)).where(Call.external_id == "pg-1"))
            assert call.started_at.isoformat() == "2026-11-20T13:00:00+00:00"
            assert (call.ani, call.duration_s, call.talk_time_s, call.result) == ("+13125550142", 64, 60, "Connected")
            assert call.recording.reference.isdigit()
    finally:
        live.stop()


def test_processes_starting_together_migrate_one_after_the_other(postgres, tmp_path):
    url = postgres.create_database("callsuite_race")
    starts = [subprocess.Popen([sys.executable, "-m", "services.cli", "migrate", "--database-url", url,
                                "--data-dir", str(tmp_path / str(n))], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for n in range(4)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in starts]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert len(versions) == 1
