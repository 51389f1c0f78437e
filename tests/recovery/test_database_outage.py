"""The database away for a while (PostgreSQL refusing the server's connections): /health
says so with 503, requests are told to come again (HTTP 503 with Retry-After, a SOAP
Server.Unavailable fault; the events server's streams too, and a SignalR hub invocation
fails with the reason as the hub's error), and once the database is back the same process serves again,
without a restart (its pool reconnects)."""
from __future__ import annotations

import pytest
import requests
from helpers.events import Connection
from helpers.server import start_server
from helpers.soap import soap_body
from sqlalchemy import create_engine, make_url, text

SOAP_ADD_LINK = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
                 '<s:Body><AddLink xmlns="urn:callsuite:recording:1"><id>OUTAGE-SOAP</id><host>WS-ALICE</host>'
                 '</AddLink></s:Body></s:Envelope>').encode()


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
        page = Connection(server.events_url)  # a customer's page, connected before the outage
        page.connect()
        _admit(admin, url.database, False)
        try:
            health = requests.get(server.url("/health"), timeout=30)
            assert health.status_code == 503
            assert health.json() == {"status": "degraded", "database": "unavailable", "switch": "simulated"}
            refused = requests.get(add_link.format(1), timeout=30)
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert refused.text == "the database is unavailable; try again shortly\n"
            soap = requests.post(server.url("/soap/recording"), data=SOAP_ADD_LINK, timeout=30,
                                 headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"AddLink"'})
            assert soap.status_code == 500  # a SOAP 1.1 fault
            fault = soap_body(soap.content)
            assert fault.findtext("faultcode").endswith(":Server.Unavailable")
            assert fault.findtext("faultstring") == "the database is unavailable; try again shortly"
            stream = requests.get(server.events_url + "/events/callbacks/1234567890", timeout=30)  # SSE
            assert stream.status_code == 503 and stream.headers["Retry-After"] == "5"
            assert stream.text == "the database is unavailable; try again shortly\n"
            subscribe = page.invoke("Subscribe", "1234567890", call_id=3)  # the hub's own error form
            assert subscribe.status_code == 200
            assert subscribe.json() == {"I": "3", "E": "the database is unavailable; try again shortly"}
        finally:
            _admit(admin, url.database, True)
        assert requests.get(server.url("/health"), timeout=30).json()["status"] == "ok"
        linked = requests.get(add_link.format(2), timeout=30)
        assert linked.status_code == 200 and linked.text == ""  # stored as pending: no call on the line
    finally:
        admin.dispose()
