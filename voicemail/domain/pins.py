"""Voicemail PIN policy: strong by default, configurable per tenant. Pure.

A PIN is refused, with a reason, when it is too short or long, not only digits, a repeat
(`111111`, `121212`, `123123`, or three equal digits in a row), a run of four or more
ascending or descending digits (`123456`, `9876`), on the list of the most used PINs, or
derived from the person's own numbers (the extension, a phone number's last digits)."""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

# The most used PINs (DataGenetics' analysis of 3.4 M four-digit PINs and public six-digit
# lists), plus keyboard patterns; the policy checks catch most others already.
COMMON_PINS = frozenset(
    [
        "0000",
        "1111",
        "1212",
        "1234",
        "1004",
        "2000",
        "4444",
        "2222",
        "6969",
        "9999",
        "3333",
        "5555",
        "6666",
        "1122",
        "1313",
        "8888",
        "4321",
        "2001",
        "1010",
        "7777",
        "0852",
        "2580",
        "1379",
        "1470",
        "1590",
        "7410",
        "9632",
        "1397",
        "0258",
        "1357",
        "2468",
        "1998",
        "1999",
        "1990",
        "1985",
        "000000",
        "111111",
        "112233",
        "121212",
        "123123",
        "123321",
        "123456",
        "123654",
        "131313",
        "147258",
        "147369",
        "159357",
        "159753",
        "654321",
        "666666",
        "696969",
        "101010",
        "102030",
        "111222",
        "121314",
        "123789",
        "135790",
        "142536",
        "147852",
        "159951",
        "171717",
        "181818",
        "191919",
        "200000",
        "202020",
        "212121",
        "232323",
        "252525",
        "258369",
        "258456",
        "369258",
        "420420",
        "456123",
        "456456",
        "456789",
        "520520",
        "555555",
        "654123",
        "666777",
        "741852",
        "777777",
        "789456",
        "789789",
        "852456",
        "888888",
        "963852",
        "987654",
        "999999",
        "100200",
        "110110",
        "112112",
        "121121",
        "123000",
        "123012",
        "212223",
    ]
)


@dataclass(frozen=True)
class PinPolicy:
    min_length: int = 6
    max_length: int = 12
    max_attempts: int = 5  # wrong PINs in a row before the mailbox locks
    lockout_seconds: int = 60  # first lock; doubles with each lock after that
    max_lockout_seconds: int = 3600


class WeakPin(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _is_repeat(pin: str) -> bool:
    if any(pin[i] == pin[i + 1] == pin[i + 2] for i in range(len(pin) - 2)):
        return True
    for size in (1, 2, 3):
        if len(pin) % size == 0 and len(pin) > size and pin == pin[:size] * (len(pin) // size):
            return True
    return False


def _has_run(pin: str, length: int = 4) -> bool:
    digits = [int(c) for c in pin]
    for step in (1, -1):
        run = 1
        for a, b in itertools.pairwise(digits):
            run = run + 1 if b - a == step else 1
            if run >= length:
                return True
    return False


def pin_check(pin: str, policy: PinPolicy, *, personal: Iterable[str] = ()) -> None:
    """Raise WeakPin (code, reason) unless `pin` is acceptable. `personal` are the owner's
    numbers (extension, mobile, direct numbers) in any format."""
    if not pin.isascii() or not pin.isdigit():
        raise WeakPin("pin_not_digits", "A PIN is made of digits only.")
    if len(pin) < policy.min_length:
        raise WeakPin("pin_too_short", f"Use at least {policy.min_length} digits.")
    if len(pin) > policy.max_length:
        raise WeakPin("pin_too_long", f"Use at most {policy.max_length} digits.")
    if _is_repeat(pin):
        raise WeakPin("pin_repeated", "Avoid repeated digits or patterns such as 121212.")
    if _has_run(pin):
        raise WeakPin("pin_sequential", "Avoid runs of digits such as 1234 or 9876.")
    if pin in COMMON_PINS:
        raise WeakPin("pin_common", "This PIN is among the most used: choose another.")
    for number in personal:
        digits = "".join(c for c in number if c.isdigit())
        if len(digits) >= 3 and (digits in pin or pin in digits):
            raise WeakPin("pin_personal", "Do not use your extension or phone numbers.")


def lockout_seconds(policy: PinPolicy, lockouts: int) -> int:
    """How long the `lockouts`-th lock (1-based) lasts: doubling, capped."""
    return min(policy.lockout_seconds * 2 ** max(lockouts - 1, 0), policy.max_lockout_seconds)
