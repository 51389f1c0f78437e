"""The sign-in rate limit's rules, in-process against a real (SQLite) database."""
from datetime import datetime, timedelta, timezone

import pytest

from services.core.errors import Unauthorized
from services.core.throttle import SigninThrottle, TooManyAttempts
from storage.database import Database
from storage.models import SigninFailure


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'throttle.db'}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def clock():
    return Clock()


def throttle(clock, **kwargs):
    options = {"max_failures": 5, "max_address_failures": 12, "window_s": 600}
    options.update(kwargs)
    return SigninThrottle(clock=clock, **options)


def fail(db, t, times, surface="basic", account="alice", address="203.0.113.9"):
    for _ in range(times):
        with db.session() as session:
            t.check(session, surface, account, address)
            t.failed(session, surface, account, address)


def check(db, t, surface="basic", account="alice", address="203.0.113.9"):
    with db.read_session() as session:
        return t.check(session, surface, account, address)


def test_refused_after_the_limit_until_the_oldest_failure_leaves_the_window(db, clock):
    t = throttle(clock)
    for _ in range(5):
        check(db, t)
        fail(db, t, 1)
        clock.advance(10)
    with pytest.raises(TooManyAttempts) as refused:
        check(db, t)
    # The first failure was 50 s ago: it leaves the 600 s window in 550 s.
    assert refused.value.retry_after_s == 550
    clock.advance(549)
    with pytest.raises(TooManyAttempts):
        check(db, t)
    clock.advance(1)
    assert check(db, t) == 4


def test_a_stranger_cannot_lock_out_the_user_at_another_address(db, clock):
    t = throttle(clock)
    fail(db, t, 5, address="203.0.113.9")
    with pytest.raises(TooManyAttempts):
        check(db, t, address="203.0.113.9")
    assert check(db, t, address="198.51.100.7") == 0
    # ... nor on another surface from the attacker's address, below the spraying limit.
    assert check(db, t, surface="console", address="203.0.113.9") == 0


def test_spraying_many_accounts_from_one_address_is_refused(db, clock):
    t = throttle(clock)
    for n in range(12):
        fail(db, t, 1, account=f"user{n}")
    with pytest.raises(TooManyAttempts):
        check(db, t, account="someone-new")
    with pytest.raises(TooManyAttempts):
        check(db, t, surface="callbutton", account="partner1")
    assert check(db, t, account="someone-new", address="198.51.100.7") == 0


def test_success_clears_that_key_only(db, clock):
    t = throttle(clock)
    fail(db, t, 4)
    fail(db, t, 2, account="bob")
    with db.session() as session:
        t.succeeded(session, "basic", "alice", "203.0.113.9")
    assert check(db, t) == 0
    assert check(db, t, account="bob") == 2


def test_authenticate_counts_failures_and_refuses_without_verifying(db, clock):
    t = throttle(clock)
    verified = []

    def wrong(account):
        verified.append(account)
        raise Unauthorized("wrong password")

    def lookup(session):
        assert session.driver_connection() is not None  # looked up inside the check's read unit
        return "alice's account"

    for _ in range(5):
        with pytest.raises(Unauthorized):
            t.authenticate(db, "basic", "alice", "203.0.113.9", lookup, wrong)
    with pytest.raises(TooManyAttempts):
        t.authenticate(db, "basic", "alice", "203.0.113.9", lookup, lambda account: "user")
    assert verified == ["alice's account"] * 5  # the refused attempt never reached the password check
    assert t.authenticate(db, "basic", "alice", "198.51.100.7", lookup, lambda account: "user") == "user"


def test_old_failures_are_deleted_as_new_ones_arrive(db, clock):
    t = throttle(clock)
    fail(db, t, 3)
    clock.advance(601)
    fail(db, t, 1, account="bob")
    with db.read_session() as session:
        assert session.query(SigninFailure).count() == 1


def test_long_names_and_addresses_fit_the_columns(db, clock):
    t = throttle(clock)
    fail(db, t, 5, account="x" * 5000, address="y" * 500)
    with pytest.raises(TooManyAttempts):
        check(db, t, account="x" * 5000, address="y" * 500)


def test_an_ipv6_client_is_counted_by_its_64_network(db, clock):
    t = throttle(clock)
    for n in range(5):  # a new address from the same /64 for every guess
        fail(db, t, 1, address=f"2001:db8:1:2::{n + 1}")
    with pytest.raises(TooManyAttempts):
        check(db, t, address="2001:db8:1:2:ffff::9")
    assert check(db, t, address="2001:db8:1:3::1") == 0
    fail(db, t, 5, address="::ffff:203.0.113.9")  # IPv4-mapped is the IPv4 address
    with pytest.raises(TooManyAttempts):
        check(db, t, address="203.0.113.9")


def test_an_accounts_failures_count_among_newer_failures_of_other_accounts_at_its_address(db, clock):
    t = throttle(clock)
    fail(db, t, 4)
    for n in range(7):  # newer failures at the same address, other accounts: under the spraying limit
        clock.advance(1)
        fail(db, t, 1, account=f"other-{n}")
    assert check(db, t) == 4
    fail(db, t, 1)
    with pytest.raises(TooManyAttempts):
        check(db, t)


def test_without_the_spraying_rule_an_account_is_still_limited(db, clock):
    t = throttle(clock, max_address_failures=0)
    fail(db, t, 4)
    for n in range(40):  # more failures of other accounts than any limit, all newer
        clock.advance(1)
        fail(db, t, 1, account=f"other-{n}")
    assert check(db, t) == 4
    fail(db, t, 1)
    with pytest.raises(TooManyAttempts):
        check(db, t)
