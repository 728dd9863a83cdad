"""Schedules in wall-clock time: exact boundaries, including both daylight-saving changes of a
European and an American time zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from routing.domain.schedules import ScheduleError, parse_schedule

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
US = ZoneInfo("America/New_York")
EU = ZoneInfo("Europe/Paris")
TICK = timedelta(microseconds=1)


def every_day(start: str, end: str, exceptions: list | None = None):
    return parse_schedule(
        schedule_id=1,
        name="s",
        time_zone=None,
        weekly=[{"days": DAYS, "start": start, "end": end}],
        exceptions=exceptions or [],
    )


def at(zone: ZoneInfo, y: int, m: int, d: int, hh: int, mm: int, fold: int = 0) -> datetime:
    """The instant of a local wall-clock time, as UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=zone, fold=fold).astimezone(UTC)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (EU, date(2026, 3, 29)),
        (EU, date(2026, 10, 25)),
        (US, date(2026, 3, 8)),
        (US, date(2026, 11, 1)),
    ],
)
def test_office_hours_are_exact_on_clock_change_days(zone: ZoneInfo, day: date) -> None:
    schedule = every_day("09:00", "17:00")
    tz = zone.key

    opening = at(zone, day.year, day.month, day.day, 9, 0)
    closing = at(zone, day.year, day.month, day.day, 17, 0)

    assert not schedule.is_open_at(opening - TICK, tz)
    assert schedule.is_open_at(opening, tz)
    assert schedule.is_open_at(closing - TICK, tz)
    assert not schedule.is_open_at(closing, tz)
    assert closing - opening == timedelta(hours=8)  # wall-clock hours, whatever the offset


def test_a_window_inside_the_spring_gap_opens_when_the_clock_jumps() -> None:
    # Paris, 2026-03-29: 02:00 CET -> 03:00 CEST; local 02:00-03:00 does not exist.
    schedule = every_day("02:30", "04:00")

    assert not schedule.is_open_at(datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), "Europe/Paris")
    assert schedule.is_open_at(
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/Paris"
    )  # 03:00 CEST
    assert not schedule.is_open_at(datetime(2026, 3, 29, 2, 0, tzinfo=UTC), "Europe/Paris")  # 04:00


def test_a_window_in_the_repeated_autumn_hour_is_open_both_times() -> None:
    # New York, 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    schedule = every_day("01:00", "02:00")
    first = at(US, 2026, 11, 1, 1, 30, fold=0)
    second = at(US, 2026, 11, 1, 1, 30, fold=1)

    assert second - first == timedelta(hours=1)
    assert schedule.is_open_at(first, "America/New_York")
    assert schedule.is_open_at(second, "America/New_York")
    assert not schedule.is_open_at(at(US, 2026, 11, 1, 2, 0), "America/New_York")


@given(
    zone=st.sampled_from([EU, US]),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    start=st.integers(min_value=1, max_value=1438),
    length=st.integers(min_value=1, max_value=1439),
)
def test_every_window_boundary_is_exact(zone: ZoneInfo, day: date, start: int, length: int) -> None:
    end = min(start + length, 1439)
    assume(end > start)
    schedule = every_day(f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}")
    for minute, opens in ((start, True), (end, False)):
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
        instant = local.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
            continue  # the wall-clock time does not exist that day (spring gap)
        before = (instant - TICK).astimezone(zone)
        if before.date() != day:
            continue
        assert schedule.is_open_at(instant, zone.key) is opens
        before_minute = before.hour * 60 + before.minute
        assert schedule.is_open_at(instant - TICK, zone.key) is (start <= before_minute < end)


def test_holiday_closes_and_special_opening_opens() -> None:
    schedule = parse_schedule(
        schedule_id=1,
        name="office",
        time_zone="Europe/Paris",
        weekly=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}],
        exceptions=[
            {"date": "2026-12-25"},
            {"date": "2026-12-26", "windows": [{"start": "10:00", "end": "12:00"}]},
        ],
    )

    assert not schedule.is_open_at(at(EU, 2026, 12, 25, 10, 0), "America/New_York")  # holiday
    assert schedule.is_open_at(at(EU, 2026, 12, 26, 11, 0), "UTC")  # Saturday special opening
    assert not schedule.is_open_at(at(EU, 2026, 12, 26, 12, 0), "UTC")
    assert schedule.is_open_at(at(EU, 2026, 12, 24, 17, 59), "UTC")  # schedule's own zone wins


@pytest.mark.parametrize(
    ("weekly", "exceptions", "path", "code"),
    [
        (
            [
                {"days": ["mon"], "start": "09:00", "end": "12:00"},
                {"days": ["mon"], "start": "11:00", "end": "13:00"},
            ],
            [],
            "weekly",
            "overlapping_windows",
        ),
        ([{"days": ["mon"], "start": "17:00", "end": "09:00"}], [], "weekly.0.end", "window_order"),
        (
            [{"days": ["monday"], "start": "09:00", "end": "12:00"}],
            [],
            "weekly.0.days",
            "invalid_days",
        ),
        (
            [{"days": ["mon"], "start": "9:00", "end": "12:00"}],
            [],
            "weekly.0.start",
            "invalid_time",
        ),
        ([{"days": ["mon"], "start": "09:00", "end": "24:01"}], [], "weekly.0.end", "invalid_time"),
        (  # superscript digits pass isdigit() but not int()
            [{"days": ["mon"], "start": "\u00b9\u00b2:00", "end": "13:00"}],
            [],
            "weekly.0.start",
            "invalid_time",
        ),
        ([], [{"date": "2026-02-30"}], "exceptions.0.date", "invalid_date"),
        (
            [],
            [{"date": "2026-12-25"}, {"date": "2026-12-25"}],
            "exceptions.1.date",
            "duplicate_date",
        ),
    ],
)
def test_invalid_schedules(weekly, exceptions, path: str, code: str) -> None:
    with pytest.raises(ScheduleError) as error:
        parse_schedule(
            schedule_id=1, name="s", time_zone=None, weekly=weekly, exceptions=exceptions
        )

    assert (error.value.path, error.value.code) == (path, code)


def test_adjacent_windows_do_not_overlap() -> None:
    schedule = parse_schedule(
        schedule_id=1,
        name="split",
        time_zone=None,
        weekly=[
            {"days": ["mon"], "start": "09:00", "end": "12:00"},
            {"days": ["mon"], "start": "12:00", "end": "24:00"},
        ],
        exceptions=[],
    )

    assert schedule.is_open(datetime(2026, 11, 23, 23, 59, tzinfo=EU))
    assert not schedule.is_open(datetime(2026, 11, 24, 0, 0, tzinfo=EU))
