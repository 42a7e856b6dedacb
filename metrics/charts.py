"""Server-side inline SVG charts (no JavaScript, no CDN): stacked bars and lines.

Each function returns safe SVG markup; every text in it is escaped. The
charts scale to their container (``viewBox``) and carry ``<title>`` tooltips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 44
MAX_X_LABELS = 12


@dataclass(frozen=True)
class Series:
    """One named series of a chart; ``None`` values are gaps."""

    name: str
    color: str
    values: Sequence[float | None]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (an axis maximum)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value - 1e-12:
            return float(candidate)
    return float(10 ** (exponent + 1))


def count_ceiling(value: float, ticks: int = 4) -> float:
    """An axis maximum for counts: a multiple of ``ticks`` (the grid's steps), so every tick
    is a whole number (0, 6, 12, 18, 24 rather than 6.25 and 18.75 incidents)."""
    return float(ticks * max(1, math.ceil(value / ticks))) if value > 0 else float(ticks)


def _plot_box() -> tuple[float, float, float, float]:
    return LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _frame(labels: Sequence[str], y_max: float, y_format: Callable[[float], str], title: str) -> list[str]:
    """Grid, y-axis ticks and x labels."""
    x0, y0, width, height = _plot_box()
    parts = [f'<title>{escape(title)}</title>']
    for i in range(5):
        value = y_max * i / 4
        y = y0 + height - height * i / 4
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + width}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(y_format(value))}</text>'
        )
    step = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    slot = width / max(len(labels), 1)
    for index, label in enumerate(labels):
        if index % step:
            continue
        x = x0 + slot * (index + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{y0 + height + 16}" text-anchor="middle" class="tick">{escape(label)}</text>'
        )
    parts.append(f'<line x1="{x0}" y1="{y0 + height}" x2="{x0 + width}" y2="{y0 + height}" class="axis"/>')
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts = []
    x = LEFT
    for item in series:
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{escape(item.color)}"/>')
        parts.append(f'<text x="{x + 16}" y="18" class="legend">{escape(item.name)}</text>')
        x += 24 + 7 * len(item.name)
    return parts


def _svg(parts: list[str], title: str) -> SafeString:
    body = "".join(parts)
    return mark_safe(  # noqa: S308 - every text above went through escape()
        f'<svg class="metrics-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def stacked_bar_chart(
    labels: Sequence[str], series: Sequence[Series], *, title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:g}", counts: bool = False,
) -> SafeString:
    """One bar per label, the series stacked bottom-up in the given order; ``counts`` gives
    the axis whole-number ticks."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    y_max = (count_ceiling if counts else nice_ceiling)(max(totals, default=0))
    x0, y0, width, height = _plot_box()
    parts = _frame(labels, y_max, y_format, title) + _legend(series)
    slot = width / max(len(labels), 1)
    bar = slot * 0.7
    for index, label in enumerate(labels):
        bottom = y0 + height
        for item in series:
            value = item.values[index] or 0
            if value <= 0:
                continue
            h = height * value / y_max
            x = x0 + slot * index + (slot - bar) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{escape(item.color)}"><title>{escape(label)} · {escape(item.name)}: '
                f'{escape(y_format(value))}</title></rect>'
            )
            bottom -= h
    return _svg(parts, title)


def line_chart(
    labels: Sequence[str], series: Sequence[Series], *, title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:g}", y_max: float | None = None,
) -> SafeString:
    """One line per series; a ``None`` breaks the line (no data in that bucket)."""
    values = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else nice_ceiling(max(values, default=0))
    x0, y0, width, height = _plot_box()
    parts = _frame(labels, top, y_format, title) + _legend(series)
    slot = width / max(len(labels), 1)
    for item in series:
        segment: list[str] = []
        segments = [segment]
        for index, value in enumerate(item.values):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            x = x0 + slot * (index + 0.5)
            y = y0 + height - height * min(max(value, 0), top) / top
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{escape(item.color)}">'
                f'<title>{escape(labels[index])} · {escape(item.name)}: {escape(y_format(value))}</title></circle>'
            )
        for points in segments:
            if len(points) > 1:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{escape(item.color)}" '
                    f'stroke-width="2"/>'
                )
    if not values:
        parts.append(
            f'<text x="{x0 + width / 2}" y="{y0 + height / 2}" text-anchor="middle" class="empty">No data</text>'
        )
    return _svg(parts, title)
