"""The lockout maths alone: no database, no Redis."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx.accounts.lockout import LockoutPolicy, address_subject, lock_length, seconds_left

POLICY = LockoutPolicy(
    account_failures=5,
    address_failures=20,
    window_seconds=900,
    lock_seconds=60,
    max_lock_seconds=3600,
    memory_seconds=86400,
)


def test_no_lock_under_the_threshold_then_a_lock_that_doubles_up_to_the_ceiling() -> None:
    under = [lock_length(POLICY, failures=n, threshold=5, strikes=0) for n in range(5)]
    growing = [lock_length(POLICY, failures=5, threshold=5, strikes=s) for s in range(8)]

    assert under == [0, 0, 0, 0, 0]
    assert growing == [60, 120, 240, 480, 960, 1920, 3600, 3600]


@given(
    failures=st.integers(min_value=0, max_value=10_000),
    strikes=st.integers(min_value=-5, max_value=10_000),
)
def test_a_lock_is_never_longer_than_the_ceiling_nor_shorter_than_the_first(
    failures: int, strikes: int
) -> None:
    seconds = lock_length(POLICY, failures=failures, threshold=5, strikes=strikes)

    assert seconds == 0 if failures < 5 else 60 <= seconds <= 3600


@given(strikes=st.integers(min_value=0, max_value=50))
def test_one_more_strike_never_shortens_the_lock(strikes: int) -> None:
    now = lock_length(POLICY, failures=5, threshold=5, strikes=strikes)
    later = lock_length(POLICY, failures=5, threshold=5, strikes=strikes + 1)

    assert later >= now


def test_seconds_left_round_up_and_end_at_zero() -> None:
    assert seconds_left(None, 100.0) == 0
    assert seconds_left(100.0, 100.0) == 0
    assert seconds_left(160.0, 100.2) == 60
    assert seconds_left(100.5, 100.0) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"account_failures": 0},
        {"window_seconds": 0},
        {"max_lock_seconds": 30},
    ],
)
def test_a_policy_that_cannot_work_is_refused(fields: dict) -> None:
    values = {
        "account_failures": 5,
        "address_failures": 20,
        "window_seconds": 900,
        "lock_seconds": 60,
        "max_lock_seconds": 3600,
        "memory_seconds": 86400,
    } | fields

    with pytest.raises(ValueError, match=r"least|shorter"):
        LockoutPolicy(**values)


@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same subscriber
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("", "unknown"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64(address: str, subject: str) -> None:
    assert address_subject(address) == subject
