"""Working-time arithmetic of incidents/sla.py: hand-checked cases and properties (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from incidents import sla
from incidents.choices import WEEKDAY_KEYS

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def calendar(zone="Europe/Berlin", hours=None, holidays=None) -> sla.WorkingHours:
    return sla.parse_calendar(
        time_zone=zone, hours=hours or {d: [["09:00", "17:00"]] for d in WEEKDAYS}, holidays=holidays or []
    )


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


# --- hand-checked cases -------------------------------------------------------------


def test_friday_afternoon_plus_two_hours_is_monday_morning():
    nine_to_five = calendar()
    start = local(BERLIN, 2026, 3, 6, 16, 0)  # Friday
    assert nine_to_five.add(start, 2 * H) == local(BERLIN, 2026, 3, 9, 10, 0)
    assert nine_to_five.between(start, local(BERLIN, 2026, 3, 9, 10, 0)) == 2 * H


def test_berlin_spring_forward_weekend():
    # DST starts Sunday 29 March 2026: Friday 16:00 CET (15:00 UTC) + 2 h = Monday 10:00 CEST (08:00 UTC).
    nine_to_five = calendar()
    start = datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    assert nine_to_five.add(start, 2 * H) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert nine_to_five.working_seconds_between(start, datetime(2026, 3, 30, 8, 0, tzinfo=UTC)) == 7200


def test_berlin_fall_back_weekend():
    # DST ends Sunday 25 October 2026: Friday 16:00 CEST (14:00 UTC) + 2 h = Monday 10:00 CET (09:00 UTC).
    nine_to_five = calendar()
    start = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    assert nine_to_five.add(start, 2 * H) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_new_york_spring_forward_and_fall_back():
    nine_to_five = calendar("America/New_York")
    # DST starts Sunday 8 March 2026: Friday 16:00 EST (21:00 UTC) + 2 h = Monday 10:00 EDT (14:00 UTC).
    assert nine_to_five.add(datetime(2026, 3, 6, 21, 0, tzinfo=UTC), 2 * H) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    # DST ends Sunday 1 November 2026: Friday 16:00 EDT (20:00 UTC) + 2 h = Monday 10:00 EST (15:00 UTC).
    assert nine_to_five.add(datetime(2026, 10, 30, 20, 0, tzinfo=UTC), 2 * H) == datetime(
        2026, 11, 2, 15, 0, tzinfo=UTC
    )


def test_a_night_shift_across_the_change_counts_real_hours():
    # Sunday 00:00-06:00 in New York on 8 March 2026 lasts five real hours (02:00 does not exist).
    night = calendar("America/New_York", {"sun": [["00:00", "06:00"]]})
    sunday = local(NEW_YORK, 2026, 3, 8, 0, 0)
    assert night.between(sunday, sunday + timedelta(days=1)) == 5 * H
    assert night.add(sunday, 5 * H) == local(NEW_YORK, 2026, 3, 8, 6, 0)
    # ... and on 1 November 2026 seven (01:00-02:00 happens twice).
    autumn = local(NEW_YORK, 2026, 11, 1, 0, 0)
    assert night.between(autumn, autumn + timedelta(days=1)) == 7 * H


def test_hours_inside_the_spring_forward_gap_are_never_worked():
    # Sunday 29 March 2026 in Berlin: 02:00-03:00 does not exist, so 02:15-03:00 gives no working time.
    gap = calendar(hours={"sun": [["02:15", "03:00"]]})
    assert gap.day_intervals(date(2026, 3, 29)) == ()
    assert gap.between(local(BERLIN, 2026, 3, 28, 0, 0), local(BERLIN, 2026, 3, 30, 0, 0)) == timedelta(0)
    # Three Sundays, the middle one in the gap: 45 + 0 + 45 minutes.
    three_sundays = gap.between(local(BERLIN, 2026, 3, 22, 0, 0), local(BERLIN, 2026, 4, 6, 0, 0))
    assert three_sundays == timedelta(minutes=90)
    # One minute after Saturday noon is due on the Sunday after the change, 5 April 02:16 CEST.
    assert gap.add(local(BERLIN, 2026, 3, 28, 12, 0), timedelta(minutes=1)) == datetime(
        2026, 4, 5, 0, 16, tzinfo=UTC
    )
    assert not gap.is_working(datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 CEST


def test_hours_straddling_the_spring_forward_gap_count_their_real_part():
    # 01:30-03:30 on 29 March 2026 is 01:30-02:00 CET then 03:00-03:30 CEST: one real hour, 00:30-01:30 UTC.
    straddle = calendar(hours={"sun": [["01:30", "03:30"]]})
    assert straddle.day_intervals(date(2026, 3, 29)) == (
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
    )
    sunday = local(BERLIN, 2026, 3, 29, 0, 0)
    assert straddle.between(sunday, sunday + timedelta(days=1)) == H
    assert straddle.add(sunday, timedelta(minutes=45)) == datetime(2026, 3, 29, 1, 15, tzinfo=UTC)  # 03:15 CEST
    assert straddle.add(sunday, H) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # closing time, 03:30 CEST


def test_hours_inside_the_autumn_fold_are_worked_on_both_passes():
    # Sunday 25 October 2026 in Berlin: 02:00-03:00 happens twice (CEST, then CET), so 02:15-03:00 is
    # worked twice: 00:15-01:00 UTC and 01:15-02:00 UTC, 90 minutes. 02:00-02:15 CET is not worked.
    fold = calendar(hours={"sun": [["02:15", "03:00"]]})
    first, second = (
        (datetime(2026, 10, 25, 0, 15, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, 15, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    )
    assert fold.day_intervals(date(2026, 10, 25)) == (first, second)
    sunday = local(BERLIN, 2026, 10, 25, 0, 0)
    assert fold.between(sunday, sunday + timedelta(days=1)) == timedelta(minutes=90)
    assert fold.between(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == (
        timedelta(minutes=45)
    )
    assert fold.add(sunday, timedelta(minutes=45)) == first[1]  # the first pass's closing time
    assert fold.add(sunday, H) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, second pass
    assert fold.add(sunday, timedelta(minutes=90)) == second[1]
    assert not fold.is_working(datetime(2026, 10, 25, 1, 5, tzinfo=UTC))  # 02:05 CET
    assert fold.is_working(datetime(2026, 10, 25, 1, 20, tzinfo=UTC))  # 02:20 CET


def test_hours_straddling_the_autumn_fold_count_the_repeated_part_twice():
    # 01:30-02:30 on 25 October 2026: 01:30-02:30 CEST (23:30-00:30 UTC), then 02:00-02:30 CET again.
    straddle = calendar(hours={"sun": [["01:30", "02:30"]]})
    assert straddle.day_intervals(date(2026, 10, 25)) == (
        (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    )
    sunday = local(BERLIN, 2026, 10, 25, 0, 0)
    assert straddle.between(sunday, sunday + timedelta(days=1)) == timedelta(minutes=90)
    assert straddle.add(sunday, timedelta(minutes=75)) == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)


def test_a_year_of_sundays_in_the_gap_and_fold_matches_day_by_day():
    # Once found by the property below: weekly Sundays 02:15-03:00 in Berlin over 2026 are 52 x 45 minutes,
    # less the spring Sunday (0) plus the autumn one's second pass (45): 39 h, the same summed day by day.
    sundays = calendar(hours={"sun": [["02:15", "03:00"]]})
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert sundays.between(start, end) == 39 * H == brute_force_between(sundays, start, end)


def test_interval_ending_at_24_00_runs_into_the_next_day_without_a_gap():
    always = calendar(hours={d: [["00:00", "24:00"]] for d in WEEKDAY_KEYS})
    before_midnight = local(BERLIN, 2026, 3, 3, 23, 59)
    assert always.add(before_midnight, timedelta(minutes=2)) == local(BERLIN, 2026, 3, 4, 0, 1)
    assert always.is_working(local(BERLIN, 2026, 3, 4, 0, 0))
    # The DST Sundays last 23 and 25 hours.
    assert always.between(local(BERLIN, 2026, 3, 29, 0, 0), local(BERLIN, 2026, 3, 30, 0, 0)) == 23 * H
    assert always.between(local(BERLIN, 2026, 10, 25, 0, 0), local(BERLIN, 2026, 10, 26, 0, 0)) == 25 * H


def test_evening_shift_to_midnight_then_next_morning():
    late = calendar(hours={"mon": [["18:00", "24:00"]], "tue": [["00:00", "02:00"], ["08:00", "10:00"]]})
    start = local(BERLIN, 2026, 3, 2, 23, 0)  # Monday
    assert late.add(start, 2 * H) == local(BERLIN, 2026, 3, 3, 1, 0)
    assert late.add(start, 4 * H) == local(BERLIN, 2026, 3, 3, 9, 0)


def test_lunch_break_is_not_counted():
    office = calendar(hours={d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in WEEKDAYS})
    assert office.add(local(BERLIN, 2026, 3, 2, 11, 0), 2 * H) == local(BERLIN, 2026, 3, 2, 14, 0)
    assert office.between(local(BERLIN, 2026, 3, 2, 11, 30), local(BERLIN, 2026, 3, 2, 13, 30)) == H
    assert not office.is_working(local(BERLIN, 2026, 3, 2, 12, 30))
    # A deadline that falls at the start of lunch is at 12:00, not 13:00.
    assert office.add(local(BERLIN, 2026, 3, 2, 11, 0), H) == local(BERLIN, 2026, 3, 2, 12, 0)


def test_holiday_range_over_christmas():
    office = calendar(holidays=[["2026-12-24", "2026-12-26"], "2026-12-31"])
    start = local(BERLIN, 2026, 12, 23, 16, 0)  # Wednesday; Thu 24, Fri 25 off, then the weekend
    assert office.add(start, 2 * H) == local(BERLIN, 2026, 12, 28, 10, 0)
    assert office.between(local(BERLIN, 2026, 12, 21, 0, 0), local(BERLIN, 2027, 1, 4, 0, 0)) == 7 * 8 * H


def test_deadline_exactly_at_closing_time_stays_at_closing_time():
    office = calendar()
    due = office.add(local(BERLIN, 2026, 3, 6, 16, 0), H)
    assert due == local(BERLIN, 2026, 3, 6, 17, 0)
    assert office.is_working(due, closing_inclusive=True)
    assert not office.is_working(due)


def test_thirty_working_days_over_weeks_with_holidays_and_dst():
    office = calendar(holidays=["2026-04-03", ["2026-04-06", "2026-04-06"]])  # Good Friday, Easter Monday
    start = local(BERLIN, 2026, 3, 16, 9, 0)  # Monday
    # 30 working days of 8 h from Monday 16 March: six weeks, two of their days holidays -> Tuesday 28 April, 17:00.
    assert office.add(start, 30 * 8 * H) == local(BERLIN, 2026, 4, 28, 17, 0)


def test_zero_and_negative():
    office = calendar()
    start = local(BERLIN, 2026, 3, 7, 12, 0)
    assert office.add(start, timedelta(0)) == start
    assert office.between(start, start - H) == timedelta(0)


@pytest.mark.parametrize(
    ("zone", "hours", "holidays", "field", "text"),
    [
        ("Mars/Olympus", {"mon": [["09:00", "17:00"]]}, [], "time_zone", "IANA"),
        ("Europe/Berlin", {"mon": [["17:00", "09:00"]]}, [], "hours", "starts at or after"),
        ("Europe/Berlin", {"mon": [["09:00", "09:00"]]}, [], "hours", "starts at or after"),
        ("Europe/Berlin", {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, [], "hours", "overlap"),
        ("Europe/Berlin", {"mon": [["09:00", "24:01"]]}, [], "hours", "HH:MM"),
        ("Europe/Berlin", {"mon": [["9", "17"]]}, [], "hours", "HH:MM"),
        ("Europe/Berlin", {"monday": [["09:00", "17:00"]]}, [], "hours", "Unknown day"),
        ("Europe/Berlin", {}, [], "hours", "at least one"),
        ("Europe/Berlin", "9-5", [], "hours", "Give the hours"),
        ("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, ["2026-02-30"], "holidays", "YYYY-MM-DD"),
        ("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, [["2026-12-31", "2026-12-24"]], "holidays", "ends before"),
        ("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, [["2020-01-01", "2024-01-01"]], "holidays", "at most"),
        ("Europe/Berlin", {"mon": [["09:00", "17:00"]]}, "xmas", "holidays", "list"),
        ("Europe/Berlin", {"mon": [["09:00", "17:00"]]},
         [[f"{y}-01-01", f"{y}-12-31"] for y in range(2000, 2020)], "holidays", "in all"),
    ],
)
def test_bad_calendars_name_the_field(zone, hours, holidays, field, text):
    with pytest.raises(sla.CalendarError) as caught:
        sla.parse_calendar(time_zone=zone, hours=hours, holidays=holidays)
    assert field in caught.value.errors
    assert text in " ".join(caught.value.errors[field])


def test_canonical_form_merges_touching_intervals_and_runs_of_dates():
    parsed = sla.parse_calendar(
        time_zone="UTC",
        hours={"tue": [["13:00", "17:00"], ["09:00", "13:00"]]},
        holidays=["2026-12-25", ["2026-12-24", "2026-12-26"], "2026-12-31"],
    )
    assert sla.format_hours(parsed.hours) == {"tue": [["09:00", "17:00"]]}
    assert sla.format_holidays(parsed.holidays) == [["2026-12-24", "2026-12-26"], "2026-12-31"]


def test_years_of_holidays_are_stepped_over_not_looped_forever():
    office = calendar(zone="UTC", hours={"mon": [["09:00", "10:00"]]})
    closed = sla.WorkingHours(
        time_zone="UTC", hours=office.hours,
        holidays=tuple(date(2026, 1, 1) + timedelta(days=i) for i in range(3 * 366)),
    )
    # The first Monday after the holidays: 4 January 2029 is a Thursday, so 8 January 2029.
    assert closed.add(datetime(2026, 1, 1, tzinfo=UTC), H) == datetime(2029, 1, 8, 10, 0, tzinfo=UTC)
    # A calendar with one working hour a week still adds 20 years of it quickly and exactly.
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday
    assert office.add(start, 1045 * H) == datetime(2026, 1, 5, 10, 0, tzinfo=UTC) + timedelta(weeks=1044)


# --- properties -----------------------------------------------------------------------

# Chatham: offsets of 12:45/13:45; Santiago: DST changes at midnight; Lord Howe: a 30-minute DST shift.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham",
         "America/Santiago", "Australia/Lord_Howe"]


@st.composite
def calendars(draw):
    hours = {}
    for key in WEEKDAY_KEYS:
        points = sorted(draw(st.sets(st.integers(0, 96), max_size=4)))  # quarter hours, 96 = 24:00
        if len(points) % 2:
            points = points[:-1]
        intervals = [
            [f"{a // 4:02d}:{a % 4 * 15:02d}", f"{b // 4:02d}:{b % 4 * 15:02d}"]
            for a, b in zip(points[::2], points[1::2], strict=True)
            if a < b
        ]
        if intervals:
            hours[key] = intervals
    if not hours:
        hours = {"wed": [["10:00", "11:00"]]}
    holidays = [
        d.isoformat() for d in draw(st.lists(st.dates(date(2026, 1, 1), date(2027, 6, 30)), max_size=12))
    ]
    return sla.parse_calendar(time_zone=draw(st.sampled_from(ZONES)), hours=hours, holidays=holidays)


instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC))
durations = st.integers(0, 60 * 86400).map(lambda s: timedelta(seconds=s))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def brute_force_between(clock: sla.WorkingHours, start: datetime, end: datetime) -> timedelta:
    """The same measure, one day at a time (no week shortcut), as a reference."""
    total = timedelta(0)
    day = clock._local_date(start) - timedelta(days=1)
    while day <= clock._local_date(end):
        for begin, finish in clock.day_intervals(day):
            low, high = max(begin, start), min(finish, end)
            if high > low:
                total += high - low
        day += timedelta(days=1)
    return total


@PROPERTY
@given(calendars(), instants, durations)
def test_adding_then_measuring_round_trips(clock, start, duration):
    end = clock.add(start, duration)
    assert clock.between(start, end) == duration
    if duration:
        assert clock.is_working(end, closing_inclusive=True)  # deadlines fall in working time


@PROPERTY
@given(calendars(), instants, durations, durations)
def test_adding_is_monotonic_and_additive(clock, start, first, second):
    low, high = sorted([first, second])
    assert clock.add(start, low) <= clock.add(start, high)
    if low:
        assert clock.add(clock.add(start, low), second) == clock.add(start, low + second)


@PROPERTY
@given(calendars(), instants, instants, instants)
@example(
    sla.parse_calendar(time_zone="Europe/Berlin", hours={"sun": [["02:15", "03:00"]]}),
    datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
)
def test_measuring_is_monotonic_additive_and_matches_day_by_day(clock, a, b, c):
    a, b, c = sorted([a, b, c])
    assert clock.between(a, b) <= clock.between(a, c)
    assert clock.between(a, b) + clock.between(b, c) == clock.between(a, c)
    assert clock.between(a, c) == brute_force_between(clock, a, c)


@PROPERTY
@given(st.sampled_from(ZONES), instants, instants, durations)
def test_a_calendar_worked_around_the_clock_equals_plain_arithmetic(zone, a, b, duration):
    always = sla.parse_calendar(time_zone=zone, hours={d: [["00:00", "24:00"]] for d in WEEKDAY_KEYS})
    assert always.add(a, duration) == a + duration == sla.ROUND_THE_CLOCK.add(a, duration)
    assert always.between(a, b) == max(b - a, timedelta(0)) == sla.ROUND_THE_CLOCK.between(a, b)
    assert always.is_working(a)
