"""GetEWTByServiceID's and UpdateEWTRecord's rule in process (services/core/callbacks.ewt_of
and update_ewt), on the suite's database (SQLite, or PostgreSQL in the second half of CI): a
company reads and sets the EWT of its own active queues only; anything else answers the
seed's -1 (a read) or false (a write), as a wrong password does, and changes nothing."""
import pytest
from helpers import server as suite

from services.core import callbacks
from services.core.security import hash_password
from storage.models import Company, ServiceQueue

PASSWORD = "ewt-secret"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ewt")
    database = suite.suite_database(folder)
    with database.session() as session:
        session.add_all([Company(id=1, name="One", password_hash=hash_password(PASSWORD)),
                         Company(id=2, name="Two", password_hash=hash_password(PASSWORD))])
        session.flush()
        session.add_all([ServiceQueue(id=10, company_id=1, name="open", ewt_minutes=7),
                         ServiceQueue(id=11, company_id=1, name="closed", ewt_minutes=9, active=False),
                         ServiceQueue(id=20, company_id=2, name="theirs", ewt_minutes=11)])
    yield database
    database.dispose()


def ewt(database, company, queue, password=PASSWORD):
    caller = callbacks.authenticate(database, callbacks.Credentials(company, password, "192.0.2.1"), None)
    with database.read_unit() as unit:
        return callbacks.ewt_of(unit, caller, queue)


CASES = pytest.mark.parametrize(("company", "queue", "password", "answer"), [
    (1, 10, PASSWORD, 7),  # its own active queue
    (2, 20, PASSWORD, 11),
    (1, 11, PASSWORD, -1),  # its own, inactive
    (1, 20, PASSWORD, -1),  # another company's
    (1, 99, PASSWORD, -1),  # no such queue
    (1, None, PASSWORD, -1),  # no queue given
    (1, 10, "wrong", -1),  # a wrong password
    (3, 10, PASSWORD, -1),  # no such company
], ids=["own", "other-own", "inactive", "foreign", "unknown", "none", "wrong-password", "unknown-company"])


@CASES
def test_a_company_reads_the_ewt_of_its_own_active_queues_only(database, company, queue, password, answer):
    assert ewt(database, company, queue, password) == answer


def every_ewt(database) -> dict:
    with database.read_session() as session:
        return {queue.id: queue.ewt_minutes for queue in session.query(ServiceQueue)}


@CASES
def test_a_company_sets_the_ewt_of_its_own_active_queues_only(database, company, queue, password, answer):
    before = every_ewt(database)
    caller = callbacks.authenticate(database, callbacks.Credentials(company, password, "192.0.2.1"), None)
    with database.unit() as unit:
        done = callbacks.update_ewt(unit, caller, queue, 42)
    assert done is (answer != -1)
    assert every_ewt(database) == ({**before, queue: 42} if done else before)
    if done:  # put it back for the other cases
        with database.unit() as unit:
            assert callbacks.update_ewt(unit, caller, queue, before[queue]) is True


@pytest.mark.parametrize("minutes", [-1, None])
def test_an_ewt_that_is_not_a_number_of_minutes_changes_nothing(database, minutes):
    before = every_ewt(database)
    caller = callbacks.authenticate(database, callbacks.Credentials(1, PASSWORD, "192.0.2.1"), None)
    with database.unit() as unit:
        assert callbacks.update_ewt(unit, caller, 10, minutes) is False
    assert every_ewt(database) == before
