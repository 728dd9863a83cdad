"""What an audit entry says changed: a pure diff of two snapshots, secrets never in the clear.

A snapshot is a flat `{field: JSON value}` dict of one object (`{}` when the object does not
exist: before a create, after a delete). The diff keeps only the fields whose value differs, as
`{"before": ..., "after": ...}`; a secret field (a password hash, an HA1 digest, a PIN hash, a
push or API token) that changed is written as the marker string, so neither the secret nor its
hash ever reaches the trail (a hash of a short PIN is as good as the PIN to anyone patient).
"""

from collections.abc import Mapping, Set
from typing import Any

SECRET_CHANGED = "[secret changed]"  # noqa: S105 - the marker that stands for a secret

# Every field of the project that holds a secret or a hash of one. `tests/audit` checks that
# every model field whose name looks like a secret is listed here or known to be harmless.
SECRET_FIELDS: frozenset[str] = frozenset(
    {
        "password",
        "ha1",
        "ha1b",
        "pin_hash",
        "token",
        "token_hash",
        "refresh_hash",
        "previous_refresh_hash",
        "key",  # a second factor's TOTP seed (django-otp)
    }
)

FieldChange = dict[str, Any]  # {"before": value or None, "after": value or None}


def changes_between(
    before: Mapping[str, Any], after: Mapping[str, Any], *, secrets: Set[str] = SECRET_FIELDS
) -> dict[str, FieldChange | str]:
    """The fields that differ between two snapshots, in a stable (sorted) order. A field missing
    on one side (a create or a delete) reads as None there; a secret reads as SECRET_CHANGED."""
    changes: dict[str, FieldChange | str] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        changes[name] = SECRET_CHANGED if name in secrets else {"before": old, "after": new}
    return changes


def describe_changes(changes: Mapping[str, FieldChange | str]) -> str:
    """One line for people and spreadsheets: `label: 'Desk' -> 'Office'; ha1: [secret changed]`."""
    parts = []
    for name, change in changes.items():
        if isinstance(change, str):
            parts.append(f"{name}: {change}")
        else:
            parts.append(f"{name}: {change['before']!r} -> {change['after']!r}")
    return "; ".join(parts)
