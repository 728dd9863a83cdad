"""Weekly windows in wall-clock time, with dated exceptions (holidays, special openings).

A schedule is evaluated on the local wall-clock time of an instant in a time zone, so
"09:00-17:00" means nine to five on every day, including the days clocks change. Windows are
half-open: open at 09:00:00, closed at 17:00:00.
"""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in minutes after local midnight; end may be 1440 (24:00)."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    id: int
    name: str
    time_zone: str | None  # None: the user's time zone
    weekly: tuple[tuple[Window, ...], ...]  # 7 tuples, Monday first
    exceptions: Mapping[date, tuple[Window, ...]]  # a date listed here replaces its weekday

    def is_open(self, local: datetime) -> bool:
        windows = self.exceptions.get(local.date())
        if windows is None:
            windows = self.weekly[local.weekday()]
        minute = local.hour * 60 + local.minute
        return any(w.contains(minute) for w in windows)

    def is_open_at(self, instant: datetime, user_time_zone: str) -> bool:
        return self.is_open(instant.astimezone(ZoneInfo(self.time_zone or user_time_zone)))


class ScheduleError(ValueError):
    def __init__(self, path: str, message: str, code: str) -> None:
        super().__init__(message)
        self.path, self.code = path, code


def parse_clock(text: Any, path: str) -> int:
    """`"09:30"` -> 570; `"24:00"` allowed as an end."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ScheduleError(path, "Use HH:MM, e.g. 09:30.", "invalid_time")
    hours, minutes = text[:2], text[3:]
    if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()):
        raise ScheduleError(path, "Use HH:MM, e.g. 09:30.", "invalid_time")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > MINUTES_PER_DAY:
        raise ScheduleError(path, "Use a time between 00:00 and 24:00.", "invalid_time")
    return value


def _window(raw: Any, path: str) -> Window:
    if not isinstance(raw, Mapping):
        raise ScheduleError(path, "A window is {start, end}.", "invalid")
    start = parse_clock(raw.get("start"), f"{path}.start")
    end = parse_clock(raw.get("end"), f"{path}.end")
    if start >= end:
        raise ScheduleError(
            f"{path}.end",
            "A window ends after it starts (split overnight windows in two).",
            "window_order",
        )
    return Window(start, end)


def _no_overlap(windows: Iterable[Window], path: str) -> tuple[Window, ...]:
    ordered = tuple(sorted(windows, key=lambda w: w.start))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ScheduleError(path, "Windows of the same day overlap.", "overlapping_windows")
    return ordered


def parse_schedule(
    *,
    schedule_id: int,
    name: str,
    time_zone: str | None,
    weekly: Sequence[Any],
    exceptions: Sequence[Any],
) -> WeeklySchedule:
    """Parse the stored JSON shape:

    weekly:     [{"days": ["mon", ...], "start": "09:00", "end": "17:00"}, ...]
    exceptions: [{"date": "2026-12-25", "windows": []}, ...]  (no windows = closed all day)
    """
    per_day: list[list[Window]] = [[] for _ in WEEKDAYS]
    for index, raw in enumerate(weekly):
        path = f"weekly.{index}"
        days = raw.get("days") if isinstance(raw, Mapping) else None
        if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days):
            raise ScheduleError(
                f"{path}.days", f"List days from {', '.join(WEEKDAYS)}.", "invalid_days"
            )
        window = _window(raw, path)
        for day in set(days):
            per_day[WEEKDAYS.index(day)].append(window)
    weekly_windows = tuple(_no_overlap(day, "weekly") for day in per_day)
    dated: dict[date, tuple[Window, ...]] = {}
    for index, raw in enumerate(exceptions):
        path = f"exceptions.{index}"
        try:
            day = date.fromisoformat(raw["date"])
        except (TypeError, KeyError, ValueError) as exc:
            raise ScheduleError(
                f"{path}.date", "Use a date such as 2026-12-25.", "invalid_date"
            ) from exc
        if day in dated:
            raise ScheduleError(f"{path}.date", "This date is listed twice.", "duplicate_date")
        windows = raw.get("windows", [])
        if not isinstance(windows, list):
            raise ScheduleError(f"{path}.windows", "A list of windows.", "invalid")
        dated[day] = _no_overlap(
            (_window(w, f"{path}.windows.{i}") for i, w in enumerate(windows)), f"{path}.windows"
        )
    return WeeklySchedule(
        id=schedule_id, name=name, time_zone=time_zone, weekly=weekly_windows, exceptions=dated
    )
