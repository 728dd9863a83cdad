"""Failed sign-ins, counted in Redis (the Django cache) with expiry: no row per attempt.

Keys, per subject (an account is the SHA-256 of its normalised e-mail, so unknown and known
accounts are counted alike and no address book sits in Redis):

    signin:fail:{kind}:{subject}        failures in the current window (expires with it)
    signin:pair:{account}:{address}     the part of both counters that came from this pair
    signin:lock:{kind}:{subject}        the time the lock ends (expires then)
    signin:strikes:{kind}:{subject}     locks served recently (lengthens the next one)
    signin:known:{account}:{address}    this address signed in to this account recently

A success forgives the failures its own address made for that account (the pair's share of both
counters), so an office behind one NAT whose people mistype now and then never adds up to a
lock, while an attacker's failures elsewhere still count. An address that signed in to an
account recently is not shut out by that account's lock (someone else is guessing its
password); the lock of the address itself still applies to it.
"""

import contextlib
import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from pbx.accounts.lockout import LockoutPolicy, lock_length, seconds_left

ACCOUNT = "account"
ADDRESS = "address"


def lockout_policy() -> LockoutPolicy:
    return LockoutPolicy(
        account_failures=settings.PBX_LOGIN_ACCOUNT_FAILURES,
        address_failures=settings.PBX_LOGIN_ADDRESS_FAILURES,
        window_seconds=settings.PBX_LOGIN_FAILURE_WINDOW,
        lock_seconds=settings.PBX_LOGIN_LOCK_SECONDS,
        max_lock_seconds=settings.PBX_LOGIN_MAX_LOCK_SECONDS,
        memory_seconds=settings.PBX_LOGIN_LOCK_MEMORY,
    )


def account_subject(email: str) -> str:
    """The counter name of whatever account an e-mail names, existing or not."""
    normalised = (email or "").strip().lower()
    return hashlib.sha256(normalised.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Sign-in is refused for `retry_after` seconds because `kind` (account/address) is locked."""

    kind: str
    retry_after: int


def _fail_key(kind: str, subject: str) -> str:
    return f"signin:fail:{kind}:{subject}"


def _lock_key(kind: str, subject: str) -> str:
    return f"signin:lock:{kind}:{subject}"


def _strikes_key(kind: str, subject: str) -> str:
    return f"signin:strikes:{kind}:{subject}"


def _pair_key(account: str, address: str) -> str:
    return f"signin:pair:{account}:{address}"


def _known_key(account: str, address: str) -> str:
    return f"signin:known:{account}:{address}"


def _bump(key: str, window: int) -> int:
    """Add one to a counter whose window starts with its first failure."""
    cache.add(key, 0, timeout=window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr: this failure opens a new window
        cache.set(key, 1, timeout=window)
        return 1


def _forgive(key: str, count: int) -> None:
    current = cache.get(key)
    if current is None or count <= 0:
        return
    with contextlib.suppress(ValueError):  # expired meanwhile: nothing left to forgive
        cache.decr(key, min(count, int(current)))


def sign_in_refusal(*, account: str, address: str, now: float | None = None) -> Refusal | None:
    """Whether a sign-in for `account` from `address` must be refused right now."""
    now = time.time() if now is None else now
    keys = [
        _lock_key(ACCOUNT, account),
        _lock_key(ADDRESS, address),
        _known_key(account, address),
    ]
    found = cache.get_many(keys)
    refusals = []
    if not found.get(keys[2]):
        refusals.append(Refusal(ACCOUNT, seconds_left(found.get(keys[0]), now)))
    refusals.append(Refusal(ADDRESS, seconds_left(found.get(keys[1]), now)))
    longest = max(refusals, key=lambda refusal: refusal.retry_after)
    return longest if longest.retry_after > 0 else None


def sign_in_failed(*, account: str, address: str, now: float | None = None) -> Refusal | None:
    """Count a failed sign-in (wrong password, wrong code, unknown account alike). Returns the
    lock it started, if it started one."""
    now = time.time() if now is None else now
    policy = lockout_policy()
    _bump(_pair_key(account, address), policy.window_seconds)
    started = []
    for kind, subject, threshold in (
        (ACCOUNT, account, policy.account_failures),
        (ADDRESS, address, policy.address_failures),
    ):
        failures = _bump(_fail_key(kind, subject), policy.window_seconds)
        strikes = int(cache.get(_strikes_key(kind, subject), 0))
        seconds = lock_length(policy, failures=failures, threshold=threshold, strikes=strikes)
        if seconds:
            cache.set(_lock_key(kind, subject), now + seconds, timeout=seconds)
            cache.set(_strikes_key(kind, subject), strikes + 1, timeout=policy.memory_seconds)
            cache.delete(_fail_key(kind, subject))  # the next lock takes a new round of failures
            started.append(Refusal(kind, seconds))
    return max(started, key=lambda refusal: refusal.retry_after) if started else None


def sign_in_succeeded(*, account: str, address: str) -> None:
    """Forgive this address's failures for this account, and remember the address."""
    pair = _pair_key(account, address)
    forgiven = int(cache.get(pair, 0))
    _forgive(_fail_key(ACCOUNT, account), forgiven)
    _forgive(_fail_key(ADDRESS, address), forgiven)
    cache.delete(pair)
    cache.set(_known_key(account, address), 1, timeout=settings.PBX_LOGIN_KNOWN_ADDRESS_SECONDS)
