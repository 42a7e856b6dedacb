"""How metric values and their changes read to people (dashboard and weekly report)."""

from __future__ import annotations

from dataclasses import dataclass

from .definitions import COUNT, HIGHER, LOWER, METRICS, PER_DAY, PER_WEEK, RATE, RATIO, SCORE, SECONDS


def format_duration(seconds: float) -> str:
    """``93784`` → ``1 d 2 h``; ``4980`` → ``1 h 23 min``; ``42`` → ``42 s``."""
    sign = "−" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{sign}{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    days, hours = divmod(hours, 24)
    return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"


def format_value(key: str, value) -> str:
    """A metric's value for people; ``—`` when there is no data."""
    if value is None:
        return "—"
    unit = METRICS[key].unit
    if unit == SECONDS:
        return format_duration(value)
    if unit == RATE:
        return f"{value * 100:.1f} %"
    if unit == COUNT:
        return f"{value:,}"
    if unit == PER_WEEK:
        return f"{value:.2f} / week"
    if unit == PER_DAY:
        return f"{value:.2f} / day"
    if unit == SCORE:
        return f"{value:.1f} / 5"
    if unit == RATIO:
        return f"{value:.2f} per release"
    return str(value)


@dataclass(frozen=True)
class Change:
    """The change of a metric against the previous period."""

    arrow: str  # "▲", "▼" or "" (no change or nothing to compare)
    text: str  # "+12.5 %", "−3.0 pp", "new", "no change", "" (no comparison)
    tone: str  # "good", "bad" or "neutral"

    def __str__(self) -> str:
        return f"{self.arrow} {self.text}".strip()


def compare(key: str, current, previous) -> Change:
    """▲/▼ with the relative change in % (rates: percentage points); up is good or bad per metric."""
    if current is None or previous is None:
        return Change("", "", "neutral")
    difference = current - previous
    if difference == 0:
        return Change("", "no change", "neutral")
    metric = METRICS[key]
    if metric.unit == RATE:
        text = f"{difference * 100:+.1f} pp"
    elif previous == 0:
        text = "new"
    else:
        text = f"{difference / abs(previous) * 100:+.1f} %"
    text = text.replace("-", "−")
    up = difference > 0
    if metric.better == HIGHER:
        tone = "good" if up else "bad"
    elif metric.better == LOWER:
        tone = "bad" if up else "good"
    else:
        tone = "neutral"
    return Change("▲" if up else "▼", text, tone)
