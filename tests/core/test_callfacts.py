"""The call's facts are written once (services/core/callfacts.py): every value that carries
a call's fields derives from CallFacts, the ledger's Call row has a column for each, and
the facts a switch reports reach the ledger whole."""
import dataclasses
from datetime import datetime, timezone

import pytest

from services.core import ledger
from services.core.calldetails import ReportCall
from services.core.callfacts import FACT_NAMES, STORED_FACTS, CallFacts, facts_of
from services.system import LedgerSink
from services.telephony.driver import SwitchCallSnapshot, SwitchEvent
from storage.database import Database, sqlite_url
from storage.models import Call
from storage.recordings import RecordingStore

AT = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("kind", [ledger.CallEvent, SwitchEvent, SwitchCallSnapshot, ReportCall])
def test_every_value_with_a_call_s_fields_takes_them_from_call_facts(kind):
    assert issubclass(kind, CallFacts)
    own = {f.name for f in dataclasses.fields(kind)} - set(FACT_NAMES)
    assert not own & {"ani", "did", "target", "extension", "direction", "dtmf", "result"}


def test_the_ledger_has_a_column_for_every_stored_fact():
    assert set(STORED_FACTS) <= set(Call.__table__.columns.keys())
    assert set(FACT_NAMES) - set(STORED_FACTS) == {"record"}  # a Call has a Recording or not


def test_what_a_switch_reports_reaches_the_ledger_whole(tmp_path):
    database = Database(sqlite_url(tmp_path))
    database.migrate()
    sink = LedgerSink(database, RecordingStore(tmp_path / "recordings"), "US")
    facts = CallFacts(direction="outbound", extension="201", ani="3125550100", did="8005551234",
                      target="+16305550111", dtmf="1#", record=False, info_digits="c", index_number="42",
                      other_data="ref 7", caller_address={"city": "Chicago"})
    sink.handle(SwitchEvent(kind="call.started", call_id="sw-1", at=AT, **facts_of(facts)))
    with database.read_session() as session:
        call = ledger.find_call(session, "sim", "sw-1")
        stored = {name: getattr(call, name) for name in STORED_FACTS}
        has_recording = call.recording is not None
    database.dispose()
    assert stored == {**{name: getattr(facts, name) for name in STORED_FACTS},
                      "ani": "+13125550100", "did": "+18005551234"}  # national numbers read as E.164
    assert has_recording is False
