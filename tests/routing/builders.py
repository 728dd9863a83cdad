"""Small builders for routing-domain tests (no database)."""

from datetime import UTC, datetime
from typing import Any

from routing.domain.documents import DocumentContext, parse_routing_document
from routing.domain.evaluation import CompiledRouting, DeviceInfo, Treatment
from routing.domain.schedules import WeeklySchedule, parse_schedule

DESK = DeviceInfo(1, "desk_phone", "Desk phone", "dp1")
LAPTOP = DeviceInfo(2, "softphone", "Laptop", "sp2")
MOBILE = DeviceInfo(3, "mobile_app", "Mobile", "ma3", push_capable=True)
DEVICES = (DESK, LAPTOP, MOBILE)
NO_TREATMENT = Treatment()

OFFICE_HOURS = parse_schedule(
    schedule_id=10,
    name="office hours",
    time_zone=None,
    weekly=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}],
    exceptions=[{"date": "2026-12-25"}],
)


def stage(seconds: int, *targets: dict[str, Any], mode: str = "add") -> dict[str, Any]:
    return {"seconds": seconds, "mode": mode, "targets": list(targets)}


def kind(name: str) -> dict[str, Any]:
    return {"type": "device_kind", "kind": name}


def device(device_id: int) -> dict[str, Any]:
    return {"type": "device", "device_id": device_id}


def profile(
    document: dict[str, Any],
    *,
    devices: tuple[DeviceInfo, ...] = DEVICES,
    treatment: Treatment = NO_TREATMENT,
    schedules: tuple[WeeklySchedule, ...] = (OFFICE_HOURS,),
    cap: int = 180,
    time_zone: str = "Europe/Paris",
    owner: int = 1,
) -> CompiledRouting:
    ctx = DocumentContext(
        owner_id=owner,
        device_owners={d.id: (owner, d.revoked) for d in devices},
        schedule_ids={s.id for s in schedules},
        extensions={"201", "202", "300"},
        own_extensions={"201"} if owner == 1 else {"202"},
        outside_numbers=True,  # stored documents may hold them; the evaluator skips them
    )
    return CompiledRouting(
        user_id=owner,
        time_zone=time_zone,
        max_ring_seconds=cap,
        document=parse_routing_document(document, ctx),
        schedules={s.id: s for s in schedules},
        devices=devices,
        treatment=treatment,
    )


def paris(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
