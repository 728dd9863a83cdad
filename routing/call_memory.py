"""What is kept of a new call's decision until the engine reports how the call went: one cache
entry per call, written by whoever decided (Django, or the engine itself) and read when the
first event about the call writes its Call row (routing.calls)."""

import hashlib
from datetime import datetime
from typing import Any

from routing.routed import RoutedCall

CALL_MEMORY_SECONDS = 6 * 3600  # longer than any call is expected to ring and talk


def call_key(domain: str, call_id: str) -> str:
    # Call-IDs are arbitrary text of up to 255 characters: hash them into a safe cache key.
    return "call:" + hashlib.sha256(f"{domain}\0{call_id}".encode()).hexdigest()


def call_memo(*, routed: RoutedCall, caller: str, now: datetime) -> dict[str, Any]:
    """The Call row's fields known when the call is decided."""
    decision = routed.decision
    return {
        "tenant_id": routed.destination.tenant_id,
        "callee_id": routed.destination.user_id,
        "extension": routed.destination.extension,
        "caller": caller[:64],
        "plan": decision.plan or "",
        "rule": decision.rule or "",
        "reason": decision.reason,
        "trace": decision.trace_lines(),
        "started_at": now,
    }
