"""How long sign-in is refused after failures: counters in, a lock length out.

Pure Python (no Django), so the maths is tested without Redis. Two subjects are counted
independently: an *account* (whatever address the guesses come from, so a botnet spreading
guesses over many addresses is still stopped) and an *address* (whatever account it tries, so
one machine spraying a password over many accounts is stopped). A subject whose failures reach
its threshold within the window is locked; each lock served within the memory period doubles
the next one, up to a ceiling, so a slow, patient attacker gets fewer guesses per day while a
person who mistyped a few times waits a minute.
"""

import ipaddress
import math
from dataclasses import dataclass

# One IPv6 subscriber usually holds a whole /64: counting single addresses there would let one
# machine rotate through 2**64 of them.
IPV6_PREFIX = 64

# 2**20 times the first lock is far past any sane ceiling: no need to compute larger powers.
_MAX_DOUBLINGS = 20


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    account_failures: int  # failures for one account, from any address, that lock it
    address_failures: int  # failures from one address, for any account, that lock it
    window_seconds: int  # failures older than this no longer count
    lock_seconds: int  # the first lock
    max_lock_seconds: int  # the longest lock, however often it repeats
    memory_seconds: int  # how long a served lock lengthens the next one

    def __post_init__(self) -> None:
        if min(self.account_failures, self.address_failures) < 1:
            raise ValueError("a threshold is at least one failure")
        if min(self.window_seconds, self.lock_seconds, self.memory_seconds) < 1:
            raise ValueError("windows and locks last at least a second")
        if self.max_lock_seconds < self.lock_seconds:
            raise ValueError("the longest lock cannot be shorter than the first")


def lock_length(policy: LockoutPolicy, *, failures: int, threshold: int, strikes: int) -> int:
    """Seconds to lock a subject that has `failures` in the window and has already served
    `strikes` locks within memory; 0 while it is under its threshold."""
    if failures < threshold:
        return 0
    doublings = min(max(strikes, 0), _MAX_DOUBLINGS)
    return min(policy.max_lock_seconds, policy.lock_seconds << doublings)


def seconds_left(locked_until: float | None, now: float) -> int:
    """Whole seconds until a lock ends (rounded up, so "retry after" is never too early)."""
    if locked_until is None or locked_until <= now:
        return 0
    return math.ceil(locked_until - now)


def address_subject(address: str) -> str:
    """The counter name of a client address: the address itself for IPv4, its /64 for IPv6
    (an IPv4-mapped IPv6 address counts as the IPv4 one)."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)
