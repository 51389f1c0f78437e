"""The verified-password cache in process (services/core/security._VerifiedCache): argon2
runs once for a client that keeps signing in, again only after a minute without use; wrong
passwords and changed passwords are never answered from it; parallel misses share one check."""
import threading

from services.core import security
from services.core.security import _VerifiedCache, hash_password

PASSWORD = "cache-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def checks(cache, password_hash, password, clock=None, at=()):
    """The cache's answers at the given times, and how many argon2 checks they cost."""
    before = security.password_verifications.value
    answers = []
    for moment in at:
        clock.now = moment
        answers.append(cache.check(password_hash, password))
    return answers, security.password_verifications.value - before


def test_a_client_in_use_is_checked_once_however_long_it_stays():
    clock, stored = Clock(), hash_password(PASSWORD)
    cache = _VerifiedCache(ttl_s=60, clock=clock)
    # A request every 50 s for ten minutes: each hit starts the entry's minute again.
    answers, argon2_runs = checks(cache, stored, PASSWORD, clock, at=[1000 + 50 * n for n in range(13)])
    assert answers == [True] * 13 and argon2_runs == 1


def test_an_entry_unused_for_its_ttl_is_checked_again():
    clock, stored = Clock(), hash_password(PASSWORD)
    cache = _VerifiedCache(ttl_s=60, clock=clock)
    answers, argon2_runs = checks(cache, stored, PASSWORD, clock, at=[1000, 1059, 1120, 1121])
    assert answers == [True] * 4 and argon2_runs == 2  # 1059 → 1120 is 61 s without use


def test_wrong_and_changed_passwords_are_never_answered_from_the_cache():
    clock, stored = Clock(), hash_password(PASSWORD)
    cache = _VerifiedCache(ttl_s=60, clock=clock)
    assert checks(cache, stored, PASSWORD, clock, at=[1000]) == ([True], 1)
    assert checks(cache, stored, "wrong", clock, at=[1001, 1002]) == ([False, False], 2)
    changed = hash_password("a new password")
    assert checks(cache, changed, PASSWORD, clock, at=[1003]) == ([False], 1)


def test_parallel_misses_share_one_check():
    stored, cache = hash_password(PASSWORD), _VerifiedCache(ttl_s=60)
    before = security.password_verifications.value
    start, answers = threading.Barrier(8), []

    def sign_in() -> None:
        start.wait()
        answers.append(cache.check(stored, PASSWORD))

    threads = [threading.Thread(target=sign_in) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [True] * 8
    assert security.password_verifications.value - before == 1
