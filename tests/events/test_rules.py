"""The dense rules of the events edge, in-process: message ids, connection tokens, the
origin allow-list, and what a connection is due (statuses after its positions, in order;
closeConnection only when the last of its requests ends)."""
from __future__ import annotations

import json

import pytest
from helpers.callbacks import new_request, record
from helpers.server import DEMO_SITE

from services.core import callback_status
from services.core.provisioning import provision
from services.events import cursor
from services.events.hub import pending_messages
from services.events.plumbing import Origins
from services.events.tokens import ConnectionTokens, InvalidToken
from storage.database import Database


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.migrate()
    with db.session() as session:
        provision(session, json.loads(DEMO_SITE.read_text()))
    yield db
    db.dispose()


def test_message_ids_round_trip_and_refuse_junk():
    positions = {3: 17, 12: 0, 999: 123456}
    assert cursor.decode(cursor.encode(positions)) == positions
    assert cursor.encode({}) == "c" and cursor.decode("c") == {} and cursor.decode(None) == {}
    for junk in ("x1.2", "c1", "c1.2_", "c-1.2", "c1.2;3.4", "c" + "_".join(f"{n}.1" for n in range(65))):
        with pytest.raises(cursor.InvalidCursor):
            cursor.decode(junk)


def test_tokens_name_their_connection_and_nothing_else():
    tokens = ConnectionTokens(b"k" * 32)
    connection_id, token = tokens.issue()
    assert tokens.connection_id(token) == connection_id
    other_key = ConnectionTokens(b"x" * 32)
    with pytest.raises(InvalidToken):
        other_key.connection_id(token)
    body, mac = token.rsplit(":", 1)
    for forged in (body + ":" + mac[:-1] + ("A" if mac[-1] != "A" else "B"), token + ":1", None, "a:b:c"):
        with pytest.raises(InvalidToken):
            tokens.connection_id(forged)
    expired = ConnectionTokens(b"k" * 32, max_age_s=-100)
    with pytest.raises(InvalidToken):
        expired.connection_id(token)


def test_origins():
    assert Origins("*").permits("https://anyone.test") and Origins("").permits("http://x.test")
    listed = Origins("https://shop.example.test, https://b.example.test/")
    assert listed.permits("https://SHOP.example.test") and listed.permits("https://b.example.test")
    assert not listed.permits("https://evil.test") and not listed.any
    assert listed.permits(None)  # no Origin: not a cross-origin browser request


def test_a_connection_gets_each_request_s_statuses_after_its_position_then_close_when_all_ended(database):
    first, second = new_request(database), new_request(database)
    a = record(database, first, "CallingUser", "UserConnected")
    with database.session() as session:
        callback_status.subscribe(session, "conn-1", callback_status.find_request(session, first))
    batch = pending_messages(database, "conn-1", {})
    assert [m["A"] for m in batch.messages] == [[first, "CallingUser"], [first, "UserConnected"]]
    request_a = next(iter(batch.positions))
    assert batch.positions == {request_a: a[1]}
    with database.session() as session:
        callback_status.subscribe(session, "conn-1", callback_status.find_request(session, second))
    b = record(database, second, "CallingUser")
    record(database, first, "CallSucceeded")  # one request ended, the other has not: no close yet
    batch = pending_messages(database, "conn-1", batch.positions)
    assert [m["A"] for m in batch.messages] == [[second, "CallingUser"], [first, "CallSucceeded"]]
    record(database, second, "CallFailed")
    batch = pending_messages(database, "conn-1", batch.positions)
    assert [(m["M"], m["A"]) for m in batch.messages] == [("updateStatus", [second, "CallFailed"]),
                                                         ("closeConnection", [])]
    assert pending_messages(database, "conn-1", batch.positions).messages == []
    # A position of a request the connection never subscribed to is ignored, not served.
    assert pending_messages(database, "conn-2", {request_a: 0}).messages == []
    assert b[0] > a[1]
