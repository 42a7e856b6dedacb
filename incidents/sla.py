"""Pure SLA deadline arithmetic: the one place a business-hours calendar plugs into.

A clock adds working time to an instant and measures working time between two
instants. ``ROUND_THE_CLOCK`` counts every second; a business-hours calendar
would implement the same two methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass(frozen=True)
class RoundTheClock:
    """24 × 7: every second counts."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


ROUND_THE_CLOCK = RoundTheClock()


# The operations handbook's defaults (§2): severity, response, resolution, notification level.
HANDBOOK_POLICIES = (
    ("critical", timedelta(minutes=15), timedelta(hours=2), "immediate"),
    ("high", timedelta(minutes=30), timedelta(hours=4), "urgent"),
    ("medium", timedelta(hours=2), timedelta(hours=8), "standard"),
    ("low", timedelta(hours=4), timedelta(hours=24), "routine"),
)


def response_due(*, detected_at: datetime, response_time: timedelta, clock: Clock = ROUND_THE_CLOCK) -> datetime:
    """``response_due = detected_at + response``."""
    return clock.add(detected_at, response_time)


def resolution_due(
    *,
    detected_at: datetime,
    resolution_time: timedelta,
    time_on_hold: timedelta,
    clock: Clock = ROUND_THE_CLOCK,
) -> datetime:
    """``resolution_due = detected_at + resolution + total time on hold``."""
    return clock.add(detected_at, resolution_time + time_on_hold)


def warning_at(*, start: datetime, due: datetime, threshold: float) -> datetime:
    """The instant at which ``threshold`` (e.g. 0.75) of the window ``start``..``due`` has passed."""
    return start + (due - start) * threshold
