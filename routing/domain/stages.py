"""One person's ring plan compiled into intervals: who rings from when to when.

A stage rings its targets for its seconds, adding to what rings (`add`) or instead of it
(`replace`). Each target rings in one continuous interval while it is wanted; the intervals of
devices become branches, those of extensions are expanded by the evaluator into that person's
own devices. Outside numbers need a trunk, which does not exist yet: they are skipped, and the
trace says so, so the simulator never promises a branch the engine cannot ring.
"""

from dataclasses import dataclass

from routing.domain.plans import RingPlan, StageMode, TargetType
from routing.domain.trace import TraceEvent


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    kind: str
    label: str
    sip_username: str
    enabled: bool = True
    revoked: bool = False
    push_capable: bool = False  # a mobile app with a live push binding


@dataclass(frozen=True, slots=True)
class Interval:
    """A target ringing from `start` to `stop` (seconds after the call arrived)."""

    type: TargetType  # DEVICE or EXTENSION
    value: int | str  # device id or extension number
    label: str
    start: int
    stop: int
    wake: bool = False  # a device rung after a push: the app has no live registration


def ring_intervals(
    plan: RingPlan,
    *,
    devices: tuple[DeviceInfo, ...],
    registered: frozenset[int],
    offset: int,
    cap: int,
    trace: list[TraceEvent],
) -> list[Interval]:
    """The plan's stages from `offset`, at most `cap` seconds of ringing in all."""
    by_id = {d.id: d for d in devices}
    by_kind: dict[str, list[DeviceInfo]] = {}
    for device in devices:
        by_kind.setdefault(device.kind, []).append(device)
    reported: set[int | str] = set()

    def reachable(device: DeviceInfo) -> tuple[bool, bool]:
        """(can ring, needs a wake-up push)."""
        problem = None
        if device.revoked:
            problem = "revoked"
        elif not device.enabled:
            problem = "disabled"
        elif device.id not in registered and not device.push_capable:
            problem = "not registered"
        if problem is not None:
            if device.id not in reported:
                trace.append(("device_skipped", (device.label, problem)))
                reported.add(device.id)
            return False, False
        wake = device.id not in registered
        if wake and device.id not in reported:
            trace.append(("wake", (device.label,)))
            reported.add(device.id)
        return True, wake

    done: list[Interval] = []
    active: dict[tuple[TargetType, int | str], Interval] = {}  # ringing now, stop still open
    now = 0
    for number, stage in enumerate(plan.stages, start=1):
        if now >= cap:
            trace.append(("cap", (cap, number)))
            break
        wanted: dict[tuple[TargetType, int | str], tuple[str, bool]] = {}
        for target in stage.targets:
            if target.type is TargetType.EXTERNAL:
                if target.value not in reported:
                    trace.append(("external_skipped", (target.value,)))
                    reported.add(target.value)
                continue
            if target.type is TargetType.EXTENSION:
                wanted[(TargetType.EXTENSION, target.value)] = (f"extension {target.value}", False)
                continue
            if target.type is TargetType.DEVICE:
                known = by_id.get(int(target.value))
                candidates = [known] if known is not None else []
            else:
                candidates = by_kind.get(str(target.value), [])
            for device in candidates:
                ok, wake = reachable(device)
                if ok:
                    wanted[(TargetType.DEVICE, device.id)] = (device.label, wake)
        if not wanted:
            trace.append(("stage_empty", (number,)))
            continue
        seconds = min(stage.seconds, cap - now)
        if stage.mode is StageMode.REPLACE:
            staying = [k for k in active if k in wanted]
            leaving = [k for k in active if k not in wanted]
            if staying and leaving:
                # A phone cannot be stopped and kept ringing in the same call: cancelling the
                # others cancels it too, and inviting it again is refused (RFC 3261 merged
                # request). So the earlier devices ring on with it.
                trace.append(
                    (
                        "replace_kept",
                        (
                            number,
                            ", ".join(active[k].label for k in staying),
                            ", ".join(active[k].label for k in leaving),
                        ),
                    )
                )
            else:
                for key in leaving:
                    done.append(_closed(active.pop(key), offset + now))
        for key, (label, wake) in wanted.items():
            if key not in active:
                active[key] = Interval(key[0], key[1], label, offset + now, -1, wake)
        trace.append(
            (
                "stage",
                (
                    number,
                    stage.mode.value,
                    seconds,
                    offset + now,
                    ", ".join(i.label for i in active.values()),
                ),
            )
        )
        now += seconds
    done.extend(_closed(interval, offset + now) for interval in active.values())
    done.sort(key=lambda i: (i.start, i.stop, str(i.value)))
    return done


def _closed(interval: Interval, stop: int) -> Interval:
    return Interval(
        interval.type, interval.value, interval.label, interval.start, stop, interval.wake
    )
