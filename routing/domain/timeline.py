"""The branches of a whole call made carryable by the engine, and its cut times.

The engine can stop ringing devices only by cancelling every branch of the call at once (a
"cut") and ringing the next ones from the failure route that follows. So a device may stop
early only at a time no other device rings across: a phone cannot be cancelled and kept ringing
in the same call (re-inviting it is refused as a merged request, RFC 3261 8.2.2.2). A stop that
would need that rings on to the next time it can stop, and the trace says so. The cuts are then
exactly the stop times before the final time, computed here once; the engine only reads them.
"""

from dataclasses import dataclass, replace

from routing.domain.trace import TraceEvent

# The engine's transaction holds at most 30 branches (Kamailio's max_branches, its ceiling), and a
# call may need one placeholder per stretch where nothing rings: 2 x 14 + 1 fits.
MAX_BRANCHES_PER_CALL = 14


@dataclass(frozen=True, slots=True)
class Branch:
    """One device rung from `start` to `stop` (seconds after the call arrived)."""

    device_id: int
    sip_username: str
    label: str
    start: int
    stop: int
    wake: bool = False  # the app is woken with a push first: it has no live registration
    user_id: int | None = None  # whose device: the called person's, or a colleague's


def settle(
    branches: list[Branch], final_at: int, trace: list[TraceEvent]
) -> tuple[tuple[Branch, ...], tuple[int, ...]]:
    """(branches the engine can carry out, cut times), both sorted."""
    merged = _one_interval_per_device([b for b in branches if b.stop > b.start])
    merged = [replace(b, stop=min(b.stop, final_at)) for b in merged]
    merged.sort(key=lambda b: (b.start, b.stop, b.device_id))
    for dropped in merged[MAX_BRANCHES_PER_CALL:]:
        trace.append(("too_many", (dropped.label, MAX_BRANCHES_PER_CALL)))
    merged = merged[:MAX_BRANCHES_PER_CALL]
    while True:
        stops = sorted({b.stop for b in merged if b.stop < final_at})
        blocked = next(
            (
                (cut, across)
                for cut in stops
                for across in merged
                if across.start < cut < across.stop
            ),
            None,
        )
        if blocked is None:
            break
        cut, across = blocked
        later = min([s for s in stops if s > cut] + [final_at])
        for index, branch in enumerate(merged):
            if branch.stop == cut:
                trace.append(("rings_on", (branch.label, later, across.label, cut)))
                merged[index] = replace(branch, stop=later)
    merged.sort(key=lambda b: (b.start, b.stop, b.device_id))
    return tuple(merged), tuple(sorted({b.stop for b in merged if b.stop < final_at}))


def _one_interval_per_device(branches: list[Branch]) -> list[Branch]:
    """A device reached twice at overlapping times (two colleagues' plans, a forward chain)
    rings once, over both intervals: forking the same contact twice at once would be refused as
    a loop. Rung again after a gap (a replace stage took it off, a later stage brings it back)
    it is a branch of its own: its first branch has ended by then."""
    merged: list[Branch] = []
    for branch in sorted(branches, key=lambda b: (b.device_id, b.start, b.stop)):
        last = merged[-1] if merged else None
        if last is not None and last.device_id == branch.device_id and branch.start <= last.stop:
            merged[-1] = replace(
                last, stop=max(last.stop, branch.stop), wake=last.wake and branch.wake
            )
        else:
            merged.append(branch)
    return merged
