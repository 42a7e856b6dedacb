"""All SLA arithmetic of incidents, and nothing else: pure functions, no database.

A *clock* adds working time to an instant and measures working time between two
instants. ``ROUND_THE_CLOCK`` counts every second (24 × 7). ``WorkingHours`` is a
business-hours calendar (SPEC §2): an IANA time zone, working intervals per
weekday in local wall-clock time (several a day; an interval may end at 24:00)
and holidays. Working time is the set of real instants whose local time falls
inside an interval of a non-holiday day, so a working hour across a DST change
is still 3600 real seconds, and a day worked 00:00–24:00 lasts 23 or 25 hours:
local times in a DST gap are never worked, those in a fold are worked twice.

Both operations are closed-form per week: a week without a holiday and without
an offset change is ``weekly_seconds`` in one step, other weeks are summed from
their days (a few intervals each). Nothing loops over minutes; adding thirty
working days is a handful of week steps (``bench/sla_bench.py``).

On top of the clocks: the deadlines and warning instants of an incident, the
resume shift, elapsed and remaining working time, and the paused state with its
reason (``SLAState``). Models, services, selectors, serializers and templates
all come here for these facts.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo, available_timezones

from .choices import WEEKDAY_KEYS, IncidentState, SLAClockName, SLAPausedReason, SLAStatus

DAY_SECONDS = 86400
ZERO = timedelta(0)
# The choices' values as plain strings: a list page computes the state of each row, and an enum
# member's ``.value`` (and its hash, in a set) is a Python-level call each time.
_BREACHED, _PAUSED, _WARNING, _MET, _OK = (
    s.value for s in (SLAStatus.BREACHED, SLAStatus.PAUSED, SLAStatus.WARNING, SLAStatus.MET, SLAStatus.OK)
)
_ON_HOLD_REASON, _OUTSIDE_HOURS_REASON = SLAPausedReason.ON_HOLD.value, SLAPausedReason.OUTSIDE_BUSINESS_HOURS.value
_CANCELLED, _ON_HOLD = IncidentState.CANCELLED.value, IncidentState.ON_HOLD.value
_RESPONSE, _RESOLUTION = SLAClockName.RESPONSE.value, SLAClockName.RESOLUTION.value
# Bounds on a calendar, so that every computation ends quickly.
MAX_HOLIDAY_ENTRIES = 1000
MAX_HOLIDAY_RANGE_DAYS = 366
MAX_HOLIDAY_DAYS = 5000  # in all: each request that reads a calendar parses them
EARLIEST_HOLIDAY, LATEST_HOLIDAY = date(1970, 1, 1), date(2200, 12, 31)


# --- clocks ------------------------------------------------------------------------


class Clock(Protocol):
    """What the SLA rules need of a calendar."""

    calendar_id: int | None

    def add_working_time(self, start: datetime, seconds: float | timedelta) -> datetime: ...

    def working_seconds_between(self, start: datetime, end: datetime) -> float: ...

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...

    def is_working(self, instant: datetime, *, closing_inclusive: bool = False) -> bool: ...


class _ClockOps:
    """``add``/``between`` in timedeltas on top of the two primitive operations."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return self.add_working_time(start, duration)

    def between(self, start: datetime, end: datetime) -> timedelta:
        return self._between(start, end)


@dataclass(frozen=True)
class RoundTheClock(_ClockOps):
    """24 × 7: every second counts."""

    calendar_id: int | None = None

    def add_working_time(self, start: datetime, seconds: float | timedelta) -> datetime:
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        return start + max(delta, ZERO)

    def _between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, ZERO)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        return self._between(start, end).total_seconds()

    def is_working(self, instant: datetime, *, closing_inclusive: bool = False) -> bool:
        return True


ROUND_THE_CLOCK = RoundTheClock()


class CalendarError(ValueError):
    """A calendar definition that cannot be used; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


@dataclass(frozen=True)
class WorkingHours(_ClockOps):
    """A business-hours calendar as pure data (build it with ``parse_calendar``).

    ``hours[weekday]`` (0 = Monday) is a tuple of ``(start, end)`` seconds since
    local midnight, sorted and disjoint, ``end`` at most 86400 (24:00).
    ``holidays`` is a sorted tuple of the dates that are not worked.
    """

    time_zone: str
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: tuple[date, ...] = ()
    calendar_id: int | None = None
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "_zone", ZoneInfo(self.time_zone))
        object.__setattr__(self, "_nominal", tuple(sum(e - s for s, e in day) for day in self.hours))
        object.__setattr__(self, "_weekly", timedelta(seconds=sum(self._nominal)))
        object.__setattr__(self, "_days", {})  # local date -> its UTC intervals (bounded below)
        if self._weekly <= ZERO:
            raise CalendarError({"hours": ["Give at least one working interval."]})

    # -- days and weeks --

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._zone).date()

    def day_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of one local date as UTC instants (none on a holiday)."""
        cached = self._days.get(day)
        if cached is None:
            if len(self._days) > 4096:
                self._days.clear()
            cached = self._days[day] = _day_intervals(self, day)
        return cached

    def _day_total(self, day: date) -> timedelta:
        return sum((e - s for s, e in self.day_intervals(day)), ZERO)

    def _has_holiday(self, first: date, last: date) -> bool:
        index = bisect.bisect_left(self.holidays, first)
        return index < len(self.holidays) and self.holidays[index] <= last

    def _midnight_offset(self, day: date) -> timedelta:
        return datetime.combine(day, time(0), tzinfo=self._zone).utcoffset()

    def _week_total(self, monday: date) -> timedelta:
        """Working time of the week starting on local ``monday``: closed form unless it
        holds a holiday or a UTC-offset change, then the sum of its seven days."""
        if self._has_holiday(monday, monday + timedelta(days=6)) or self._midnight_offset(
            monday
        ) != self._midnight_offset(monday + timedelta(days=7)):
            return sum((self._day_total(monday + timedelta(days=i)) for i in range(7)), ZERO)
        return self._weekly

    # -- the two operations --

    def add_working_time(self, start: datetime, seconds: float | timedelta) -> datetime:
        """The first instant at which ``seconds`` of working time have passed since ``start``.

        It always lies in working time, or at the close of an interval (a deadline
        that falls exactly at closing time is at closing time, not the next morning).
        Zero or less gives ``start`` itself.
        """
        remaining = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if remaining <= ZERO:
            return start
        day = self._local_date(start)
        for begin, end in self.day_intervals(day):
            if end <= start:
                continue
            begin = max(begin, start)
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        # Every full week gives its weekly time except for holidays (each can cost at most a
        # week) and DST weeks: past this bound the calendar cannot be working at all.
        weeks = remaining // self._weekly + len(self.holidays) + remaining // (self._weekly * 20) + 4
        limit = day + timedelta(days=7 * weeks)
        day += timedelta(days=1)
        while day.weekday() != 0:
            total = self._day_total(day)
            if remaining <= total:
                return self._inside(day, remaining)
            remaining -= total
            day += timedelta(days=1)
        while day < limit:
            week = self._week_total(day)
            if remaining <= week:
                break
            remaining -= week
            day += timedelta(days=7)
        while day < limit:
            total = self._day_total(day)
            if remaining <= total:
                return self._inside(day, remaining)
            remaining -= total
            day += timedelta(days=1)
        raise CalendarError({"hours": ["The calendar has no working time left to count in."]})

    def _inside(self, day: date, remaining: timedelta) -> datetime:
        for begin, end in self.day_intervals(day):
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("remaining exceeds the day's working time")  # callers check the total

    def _between(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return ZERO
        first, last = self._local_date(start), self._local_date(end)
        if first == last:
            return _overlap(self.day_intervals(first), start, end)
        total = _overlap(self.day_intervals(first), start, end)
        day = first + timedelta(days=1)
        while day < last and day.weekday() != 0:
            total += self._day_total(day)
            day += timedelta(days=1)
        while day + timedelta(days=7) <= last:
            total += self._week_total(day)
            day += timedelta(days=7)
        while day < last:
            total += self._day_total(day)
            day += timedelta(days=1)
        return total + _overlap(self.day_intervals(last), start, end)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)`` (0 when ``end`` is not after ``start``)."""
        return self._between(start, end).total_seconds()

    def is_working(self, instant: datetime, *, closing_inclusive: bool = False) -> bool:
        """Whether ``instant`` is in working time (with ``closing_inclusive``, the closing
        instant of an interval counts too: a deadline may fall exactly there)."""
        for begin, end in self.day_intervals(self._local_date(instant)):
            if begin <= instant < end or (closing_inclusive and instant == end):
                return True
        return False


def _day_intervals(calendar: WorkingHours, day: date) -> tuple[tuple[datetime, datetime], ...]:
    if calendar.holidays and calendar._has_holiday(day, day):
        return ()
    # DST rule: worked = local wall time in an interval; a gap's times never occur, a fold's occur twice.
    midnight = datetime.combine(day, time(0))  # naive local wall time
    pieces: list[list[datetime]] = []
    for low, high, offset in _offset_segments(calendar.time_zone, day):
        for begin, end in calendar.hours[day.weekday()]:
            first = max(midnight + timedelta(seconds=begin), low + offset)
            last = min(midnight + timedelta(seconds=end), high + offset)
            if last > first:
                pieces.append([first - offset, last - offset])
    pieces.sort()
    merged: list[list[datetime]] = []
    for begin, end in pieces:  # a fold's two passes of one interval may touch in UTC
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return tuple((begin.replace(tzinfo=UTC), end.replace(tzinfo=UTC)) for begin, end in merged)


@lru_cache(maxsize=8192)
def _offset_segments(time_zone: str, day: date) -> tuple[tuple[datetime, datetime, timedelta], ...]:
    """Naive UTC ranges ``[low, high)`` of constant UTC offset covering every instant whose
    local date is ``day`` (offsets lie within ±15 h), with their offsets; shared by calendars."""
    zone, midnight = ZoneInfo(time_zone), datetime.combine(day, time(0))

    def offset(instant: datetime) -> timedelta:
        return instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()

    samples = [midnight - timedelta(hours=15) + timedelta(hours=9 * i) for i in range(7)]  # to 24 h + 15 h
    cuts = [samples[0]]
    for before, after in zip(samples, samples[1:], strict=False):
        if offset(before) != offset(after):
            low, high = before, after  # offsets change at whole seconds: bisect to the change
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == offset(before):
                    low = middle
                else:
                    high = middle
            cuts.append(high)
    cuts.append(samples[-1])
    return tuple((low, high, offset(low)) for low, high in zip(cuts, cuts[1:], strict=False))


def _overlap(intervals, start: datetime, end: datetime) -> timedelta:
    total = ZERO
    for begin, finish in intervals:
        low, high = max(begin, start), min(finish, end)
        if high > low:
            total += high - low
    return total


def add_working_time(start: datetime, seconds: float | timedelta, *, clock: Clock = ROUND_THE_CLOCK) -> datetime:
    """``start`` plus ``seconds`` of working time in ``clock`` (24 × 7 by default)."""
    return clock.add_working_time(start, seconds)


def working_seconds_between(start: datetime, end: datetime, *, clock: Clock = ROUND_THE_CLOCK) -> float:
    """Working seconds between two instants in ``clock`` (24 × 7 by default)."""
    return clock.working_seconds_between(start, end)


# --- calendar definitions (validation) ---------------------------------------------

_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this machine knows."""
    return frozenset(available_timezones())


def _seconds_of(text: Any) -> int | None:
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    value = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    return value if value <= DAY_SECONDS else None


def _parse_hours(hours: Any, errors: list[str]) -> tuple[tuple[tuple[int, int], ...], ...]:
    if not isinstance(hours, dict):
        errors.append('Give the hours as {"mon": [["09:00", "17:00"]], …}.')
        return ((),) * 7
    unknown = sorted(str(k) for k in hours if k not in WEEKDAY_KEYS)
    if unknown:
        errors.append(f"Unknown day {', '.join(unknown)}: use {', '.join(WEEKDAY_KEYS)}.")
    week = []
    for key in WEEKDAY_KEYS:
        raw = hours.get(key) or []
        if not isinstance(raw, list):
            errors.append(f"{key}: give a list of [start, end] pairs.")
            week.append(())
            continue
        intervals = []
        for pair in raw:
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                errors.append(f"{key}: {pair!r} is not a [start, end] pair.")
                continue
            begin, end = _seconds_of(pair[0]), _seconds_of(pair[1])
            if begin is None or end is None:
                errors.append(f"{key}: {pair[0]!r}–{pair[1]!r}: times are HH:MM from 00:00 to 24:00.")
            elif begin >= end:
                errors.append(f"{key}: {pair[0]}–{pair[1]} starts at or after its end.")
            else:
                intervals.append((begin, end))
        intervals.sort()
        for (_, end), (begin, _) in zip(intervals, intervals[1:], strict=False):
            if begin < end:
                errors.append(f"{key}: intervals overlap.")
                break
        merged: list[tuple[int, int]] = []
        for begin, end in intervals:  # touching intervals (09–12, 12–13) are one
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((begin, end))
        week.append(tuple(merged))
    return tuple(week)


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if EARLIEST_HOLIDAY <= parsed <= LATEST_HOLIDAY and len(value) == 10 else None


def _parse_holidays(holidays: Any, errors: list[str]) -> tuple[date, ...]:
    if holidays is None:
        return ()
    if not isinstance(holidays, list):
        errors.append('Give a list of dates and ranges: ["2026-12-25", ["2026-12-28", "2026-12-31"]].')
        return ()
    if len(holidays) > MAX_HOLIDAY_ENTRIES:
        errors.append(f"At most {MAX_HOLIDAY_ENTRIES} holidays.")
        return ()
    days: set[date] = set()
    for entry in holidays:
        if isinstance(entry, list | tuple):
            if len(entry) != 2:
                errors.append(f"{entry!r}: a range is [first, last].")
                continue
            first, last = _parse_date(entry[0]), _parse_date(entry[1])
            if first is None or last is None:
                errors.append(f"{entry!r}: dates are YYYY-MM-DD between 1970 and 2200.")
            elif first > last:
                errors.append(f"{entry[0]}–{entry[1]}: the range ends before it starts.")
            elif (last - first).days >= MAX_HOLIDAY_RANGE_DAYS:
                errors.append(f"{entry[0]}–{entry[1]}: a range is at most {MAX_HOLIDAY_RANGE_DAYS} days.")
            else:
                days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
        else:
            day = _parse_date(entry)
            if day is None:
                errors.append(f"{entry!r}: dates are YYYY-MM-DD between 1970 and 2200.")
            else:
                days.add(day)
    if len(days) > MAX_HOLIDAY_DAYS:
        errors.append(f"At most {MAX_HOLIDAY_DAYS} holiday days in all.")
        return ()
    return tuple(sorted(days))


def parse_calendar(
    *, time_zone: Any, hours: Any, holidays: Any = None, calendar_id: int | None = None, name: str = ""
) -> WorkingHours:
    """Check a calendar definition (SPEC §2 shape) and build its clock.

    Raises ``CalendarError`` naming each bad field: an unknown time zone, a day
    that is not ``mon``…``sun``, a time that is not HH:MM up to 24:00, an interval
    that starts at or after its end, overlapping intervals, no working time at
    all, a date that does not exist, a range that ends before it starts.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(time_zone, str) or time_zone not in time_zones():
        errors["time_zone"] = [f"{time_zone!r} is not an IANA time zone (e.g. Europe/Berlin)."]
    hour_errors: list[str] = []
    week = _parse_hours(hours, hour_errors)
    if not hour_errors and not any(week):
        hour_errors.append("Give at least one working interval.")
    if hour_errors:
        errors["hours"] = hour_errors
    holiday_errors: list[str] = []
    days = _parse_holidays(holidays, holiday_errors)
    if holiday_errors:
        errors["holidays"] = holiday_errors
    if errors:
        raise CalendarError(errors)
    return WorkingHours(time_zone=time_zone, hours=week, holidays=days, calendar_id=calendar_id, name=name)


def format_hours(week: tuple[tuple[tuple[int, int], ...], ...]) -> dict[str, list[list[str]]]:
    """The canonical ``hours`` JSON of a parsed week (days without hours left out)."""

    def text(seconds: int) -> str:
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"

    return {
        key: [[text(b), text(e)] for b, e in day] for key, day in zip(WEEKDAY_KEYS, week, strict=True) if day
    }


def format_holidays(days: tuple[date, ...]) -> list[str | list[str]]:
    """The canonical ``holidays`` JSON: single dates, and runs of consecutive dates as ranges."""
    result: list[str | list[str]] = []
    index = 0
    while index < len(days):
        last = index
        while last + 1 < len(days) and days[last + 1] - days[last] == timedelta(days=1):
            last += 1
        first_day, last_day = days[index], days[last]
        result.append(first_day.isoformat() if first_day == last_day else [first_day.isoformat(), last_day.isoformat()])
        index = last + 1
    return result


# --- the SLA rules of §2 -----------------------------------------------------------

# The operations handbook's defaults (§2): severity, response, resolution, notification level.
HANDBOOK_POLICIES = (
    ("critical", timedelta(minutes=15), timedelta(hours=2), "immediate"),
    ("high", timedelta(minutes=30), timedelta(hours=4), "urgent"),
    ("medium", timedelta(hours=2), timedelta(hours=8), "standard"),
    ("low", timedelta(hours=4), timedelta(hours=24), "routine"),
)


class ClockFields(NamedTuple):
    """The incident columns of one SLA clock."""

    due: str
    warning_due: str
    breached: str
    breached_at: str
    warned_at: str


def clock_fields(clock: str) -> ClockFields:
    """``clock_fields(SLAClockName.RESPONSE).due == "response_due"`` and so on."""
    name = SLAClockName(clock).value
    return ClockFields(
        due=f"{name}_due",
        warning_due=f"{name}_warning_due",
        breached=f"{name}_breached",
        breached_at=f"{name}_breached_at",
        warned_at=f"{name}_warned_at",
    )


class Deadlines(NamedTuple):
    response_due: datetime
    response_warning_due: datetime
    resolution_due: datetime
    resolution_warning_due: datetime


def response_due(*, detected_at: datetime, response_time: timedelta, clock: Clock = ROUND_THE_CLOCK) -> datetime:
    """``response_due = detected_at + response`` (working time)."""
    return clock.add(detected_at, response_time)


def resolution_due(
    *,
    detected_at: datetime,
    resolution_time: timedelta,
    time_on_hold: timedelta,
    clock: Clock = ROUND_THE_CLOCK,
) -> datetime:
    """``resolution_due = detected_at + resolution + total time on hold`` (working time)."""
    return clock.add(detected_at, resolution_time + time_on_hold)


def deadlines(
    *,
    detected_at: datetime,
    response_time: timedelta,
    resolution_time: timedelta,
    time_on_hold: timedelta,
    warning_threshold: float,
    clock: Clock = ROUND_THE_CLOCK,
) -> Deadlines:
    """Both deadlines and both warning instants, counted from ``detected_at``.

    A warning is due when ``warning_threshold`` of a window has passed in working
    time; on-hold time (working time too) moves the resolution warning and
    deadline later, as it pauses that clock. Every instant lies in working time.
    """
    threshold = float(warning_threshold)
    return Deadlines(
        response_due=clock.add(detected_at, response_time),
        response_warning_due=clock.add(detected_at, response_time * threshold),
        resolution_due=clock.add(detected_at, resolution_time + time_on_hold),
        resolution_warning_due=clock.add(detected_at, resolution_time * threshold + time_on_hold),
    )


def warning_at(*, start: datetime, due: datetime, threshold: float, clock: Clock = ROUND_THE_CLOCK) -> datetime:
    """The instant at which ``threshold`` (e.g. 0.75) of the window ``start``..``due`` has passed."""
    return clock.add(start, clock.between(start, due) * threshold)


def hold_time(
    *, time_on_hold: timedelta, on_hold_since: datetime | None, now: datetime, clock: Clock = ROUND_THE_CLOCK
) -> timedelta:
    """Total working time on hold, a hold still running included."""
    running = clock.between(on_hold_since, now) if on_hold_since is not None else ZERO
    return time_on_hold + running


def hold_periods_time(periods, *, clock: Clock = ROUND_THE_CLOCK) -> timedelta:
    """Working time of finished hold periods ``[(held_at, resumed_at), …]``."""
    return sum((clock.between(start, end) for start, end in periods), ZERO)


def resume_hold_time(*, time_on_hold: timedelta, on_hold_since: datetime, at: datetime, clock: Clock) -> timedelta:
    """Time on hold after resuming at ``at``: the paused working time is added (the resume
    shift: the resolution deadline then moves later by exactly that working time)."""
    return time_on_hold + clock.between(on_hold_since, at)


# --- the SLA state of an incident --------------------------------------------------


@dataclass(slots=True)
class SLAClock:
    """One SLA clock (response or resolution) as seen at one instant, in working time (a value:
    nothing changes it once made; not ``frozen``, whose ``__init__`` costs 2.5× as much, and a
    list page makes two per row)."""

    due: datetime | None
    remaining_seconds: float | None
    elapsed_seconds: float
    breached: bool
    breached_at: datetime | None
    warned_at: datetime | None
    warning_due: datetime | None
    running: bool
    paused_reason: str | None
    status: str

    def as_dict(self) -> dict[str, Any]:
        """The clock as JSON-ready values, instants in ISO 8601 (built by hand: ``dataclasses.asdict``
        deep-copies every value, a third of a list page's time)."""
        due, breached_at, warned_at, warning_due = self.due, self.breached_at, self.warned_at, self.warning_due
        return {
            "due": due.isoformat() if due else None,
            "remaining_seconds": self.remaining_seconds,
            "elapsed_seconds": self.elapsed_seconds,
            "breached": self.breached,
            "breached_at": breached_at.isoformat() if breached_at else None,
            "warned_at": warned_at.isoformat() if warned_at else None,
            "warning_due": warning_due.isoformat() if warning_due else None,
            "running": self.running,
            "paused_reason": self.paused_reason,
            "status": self.status,
        }


@dataclass(slots=True)
class SLAState:
    """Both SLA clocks of an incident, whether they stand still and why, time on hold (a value,
    as ``SLAClock``)."""

    response: SLAClock
    resolution: SLAClock
    paused: bool
    paused_reason: str | None
    time_on_hold_seconds: float
    status: str
    calendar: int | None

    @property
    def css_class(self) -> str:
        return f"sla-{SLAStatus.OK if self.status == SLAStatus.MET else self.status}"

    @property
    def paused_text(self) -> str:
        """``paused: outside business hours`` (or ``on hold``), empty when running."""
        return f"paused: {SLAPausedReason(self.paused_reason).label}" if self.paused_reason else ""

    def as_dict(self) -> dict[str, Any]:
        """Both clocks and the summary as JSON-ready values."""
        return {
            _RESPONSE: self.response.as_dict(),
            _RESOLUTION: self.resolution.as_dict(),
            "paused": self.paused,
            "paused_reason": self.paused_reason,
            "time_on_hold_seconds": self.time_on_hold_seconds,
            "status": self.status,
            "calendar": self.calendar,
        }


def _clock_state(
    *, start, end, due, warning_due, time_on_hold, flagged, breached_at, warned_at, running, on_hold, done,
    now, clock: Clock,
) -> SLAClock:
    """One clock from ``start`` to ``end`` (not counting ``time_on_hold``) against ``due``."""
    elapsed = max(clock.between(start, end) - time_on_hold, ZERO).total_seconds()
    if due is None:
        remaining = None
    elif end <= due:
        remaining = clock.working_seconds_between(end, due)
    else:
        remaining = -clock.working_seconds_between(due, end)
    breached = flagged or (due is not None and end > due)
    outside = running and not clock.is_working(now)
    if on_hold:
        paused_reason = _ON_HOLD_REASON
    elif outside:
        paused_reason = _OUTSIDE_HOURS_REASON
    else:
        paused_reason = None
    if breached:
        status = _BREACHED
    elif on_hold:
        status = _PAUSED
    elif not running:
        status = _MET if done else _OK
    elif warning_due is not None and end >= warning_due:
        status = _WARNING
    elif outside:
        status = _PAUSED
    else:
        status = _OK
    return SLAClock(
        due=due, remaining_seconds=remaining, elapsed_seconds=elapsed, breached=breached,
        breached_at=breached_at, warned_at=warned_at, warning_due=warning_due, running=running,
        paused_reason=paused_reason, status=status,
    )


def sla_state(incident, *, now: datetime, clock: Clock = ROUND_THE_CLOCK) -> SLAState:
    """The SLA state of ``incident`` (any object with the incident's fields) at ``now``.

    Remaining and elapsed are working time of ``clock``; remaining is negative once a
    clock is past its deadline. The response clock stops at acknowledgement; the
    resolution clock stops at resolution and stands still on hold (``paused_reason``
    ``on_hold``: remaining and elapsed frozen). A running clock outside the
    calendar's working time stands still too (``outside_business_hours``).
    """
    stopped = incident.state == _CANCELLED
    stop_at = incident.updated_at if stopped and incident.updated_at else now

    response = _clock_state(
        start=incident.detected_at,
        end=incident.acknowledged_at or stop_at,
        due=incident.response_due,
        warning_due=incident.response_warning_due,
        time_on_hold=ZERO,
        flagged=incident.response_breached,
        breached_at=incident.response_breached_at,
        warned_at=incident.response_warned_at,
        running=incident.acknowledged_at is None and not stopped,
        on_hold=False,
        done=incident.acknowledged_at is not None,
        now=now,
        clock=clock,
    )
    on_hold = incident.on_hold_since is not None and incident.state == _ON_HOLD
    if incident.resolved_at is not None:
        resolution_end = incident.resolved_at
    elif on_hold:
        resolution_end = incident.on_hold_since
    else:
        resolution_end = stop_at
    resolution = _clock_state(
        start=incident.detected_at,
        end=resolution_end,
        due=incident.resolution_due,
        warning_due=incident.resolution_warning_due,
        time_on_hold=incident.time_on_hold,
        flagged=incident.resolution_breached,
        breached_at=incident.resolution_breached_at,
        warned_at=incident.resolution_warned_at,
        running=incident.resolved_at is None and not on_hold and not stopped,
        on_hold=on_hold,
        done=incident.resolved_at is not None,
        now=now,
        clock=clock,
    )

    statuses = (response.status, resolution.status)
    if _BREACHED in statuses:
        status = _BREACHED
    elif on_hold:
        status = _PAUSED
    elif incident.resolved_at is not None:
        status = _MET
    elif _WARNING in statuses:
        status = _WARNING
    elif _PAUSED in statuses:
        status = _PAUSED
    else:
        status = _OK
    reasons = [c.paused_reason for c in (resolution, response) if c.paused_reason]
    return SLAState(
        response=response,
        resolution=resolution,
        paused=bool(reasons),
        paused_reason=reasons[0] if reasons else None,
        time_on_hold_seconds=hold_time(
            time_on_hold=incident.time_on_hold, on_hold_since=incident.on_hold_since,
            now=now if not stopped else stop_at, clock=clock,
        ).total_seconds(),
        status=status,
        calendar=clock.calendar_id,
    )


# --- the incident process targets (§2.1): counted around the clock --------------

DEFAULT_DETECTION_TIME = timedelta(minutes=15)
DEFAULT_FOLLOW_UP_TIME = timedelta(hours=24)


def detection_breached(*, started_at: datetime, detected_at: datetime, detection_time: timedelta) -> bool:
    """The detection target is missed when ``detected_at − started_at`` exceeds ``detection_time``."""
    return detected_at - started_at > detection_time


def follow_up_due(*, resolved_at: datetime, follow_up_time: timedelta) -> datetime:
    """``follow_up_due = resolved_at + follow_up_time``."""
    return resolved_at + follow_up_time
