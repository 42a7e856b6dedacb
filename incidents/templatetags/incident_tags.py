"""Presentation helpers for incident pages: durations, badges, SLA clock labels."""

from __future__ import annotations

from datetime import timedelta

from django import template

from incidents.choices import IncidentState, Severity, SLAPausedReason, SLAStatus

register = template.Library()

SEVERITY_CLASSES = {
    Severity.CRITICAL: "text-bg-danger",
    Severity.HIGH: "text-bg-warning",
    Severity.MEDIUM: "text-bg-primary",
    Severity.LOW: "text-bg-secondary",
}

STATE_CLASSES = {
    IncidentState.DETECTED: "bg-danger-subtle text-danger-emphasis border border-danger-subtle",
    IncidentState.RESPONDING: "bg-primary-subtle text-primary-emphasis border border-primary-subtle",
    IncidentState.ON_HOLD: "bg-warning-subtle text-warning-emphasis border border-warning-subtle",
    IncidentState.RESOLVED: "bg-success-subtle text-success-emphasis border border-success-subtle",
    IncidentState.CLOSED: "bg-secondary-subtle text-secondary-emphasis border border-secondary-subtle",
    IncidentState.CANCELLED: "bg-body-tertiary text-body-secondary border",
}

# The button colour of each transition on the incident page.
TRANSITION_BUTTONS = {
    "acknowledge": "btn-primary",
    "resolve": "btn-success",
    "hold": "btn-outline-secondary",
    "resume": "btn-outline-primary",
    "reopen": "btn-outline-warning",
    "close": "btn-dark",
    "cancel": "btn-outline-danger",
}


@register.filter
def duration(seconds) -> str:
    """A length of time as a desk reads it: ``2 d 4 h``, ``30 h 00 min``, ``1 h 05 min``, ``12 min``, ``40 s``.

    The sign is dropped (callers say "left" or "over"); ``None`` becomes an em dash.
    """
    if seconds is None or seconds == "":
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    total = abs(int(round(float(seconds))))
    days, rest = divmod(total, 86400)
    if days < 2:  # "24 h", "30 h": how SLA windows are spoken of
        days, rest = 0, total
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@register.filter
def severity_class(severity: str) -> str:
    """Bootstrap badge classes for a severity value."""
    return SEVERITY_CLASSES.get(severity, "text-bg-secondary")


@register.filter
def state_class(state: str) -> str:
    """Bootstrap badge classes for an incident state value."""
    return STATE_CLASSES.get(state, "text-bg-secondary")


@register.filter
def transition_button(name: str) -> str:
    """Bootstrap button classes for a transition."""
    return TRANSITION_BUTTONS.get(name, "btn-outline-secondary")


TRANSITION_LABELS = {
    "acknowledge": "Acknowledge",
    "hold": "Put on hold",
    "resume": "Resume",
    "resolve": "Resolve",
    "reopen": "Reopen",
    "close": "Close",
    "cancel": "Cancel incident",
}

# Past tense, for the timeline.
TRANSITION_DONE = {
    "acknowledge": "Acknowledged",
    "hold": "Put on hold",
    "resume": "Resumed",
    "resolve": "Resolved",
    "reopen": "Reopened",
    "close": "Closed",
    "cancel": "Cancelled",
    "change severity": "Severity changed",
    "escalate": "Escalated",
    "retime sla": "SLA re-timed",
    "update": "Updated",
    "declare major": "Declared a major incident",
}

ESCALATION_TIERS = {0: "not escalated", 1: "team lead", 2: "Incident Managers", 3: "Ops Managers"}


@register.filter
def transition_label(name: str) -> str:
    """The button text of a transition: ``hold`` → ``Put on hold``."""
    return TRANSITION_LABELS.get(name, name.replace("_", " ").capitalize())


@register.filter
def timeline_title(title: str) -> str:
    """A logged transition or event in words: ``acknowledge`` → ``Acknowledged``."""
    return TRANSITION_DONE.get(title, title[:1].upper() + title[1:])


@register.filter
def state_label(value: str) -> str:
    """``on_hold`` → ``On hold`` (states as stored in the transition log)."""
    try:
        return IncidentState(value).label
    except ValueError:
        return value.replace("_", " ")


@register.filter
def escalation_tier(level: int) -> str:
    """Who an escalation level reaches."""
    return ESCALATION_TIERS.get(level, f"level {level}")


@register.filter
def sla_percent(clock) -> int:
    """How much of a clock's window is used, 0–100 (for a progress bar)."""
    if clock.remaining_seconds is None:
        return 0
    window = clock.elapsed_seconds + clock.remaining_seconds
    if window <= 0 or clock.remaining_seconds < 0:
        return 100
    return max(0, min(100, round(100 * clock.elapsed_seconds / window)))


SLA_STATUS_TEXT = dict(SLAStatus.choices)
SLA_STATUS_BADGE = {
    SLAStatus.OK: "bg-success-subtle text-success-emphasis",
    SLAStatus.WARNING: "bg-warning-subtle text-warning-emphasis",
    SLAStatus.BREACHED: "text-bg-danger",
    SLAStatus.PAUSED: "bg-secondary-subtle text-secondary-emphasis",
    SLAStatus.MET: "bg-success-subtle text-success-emphasis",
}


@register.filter
def sla_status_text(status: str) -> str:
    return SLA_STATUS_TEXT.get(status, status)


@register.filter
def sla_status_badge(status: str) -> str:
    return SLA_STATUS_BADGE.get(status, "text-bg-secondary")


@register.filter
def paused_text(reason: str | None) -> str:
    """``outside_business_hours`` → ``paused: outside business hours`` (empty when running)."""
    return f"paused: {SLAPausedReason(reason).label}" if reason else ""


@register.inclusion_tag("incidents/partials/severity_badge.html")
def severity_badge(incident):
    return {"value": incident.severity, "label": incident.get_severity_display()}


@register.inclusion_tag("incidents/partials/state_badge.html")
def state_badge(incident):
    return {"value": incident.state, "label": incident.get_state_display()}


def _clock_summary(name: str, clock) -> dict:
    """One clock in a few words ("3 h left", remaining working time); a clock that stands
    still says why in ``paused`` ("paused: outside business hours")."""
    status = SLAStatus.OK if clock.status == SLAStatus.MET else clock.status
    remaining = clock.remaining_seconds
    paused = paused_text(clock.paused_reason)
    if clock.breached:
        text = f"breached by {duration(remaining)}" if remaining is not None and remaining < 0 else "breached"
    elif clock.status == SLAStatus.MET:
        text = "met"
    elif remaining is None:
        text = "no deadline"
    else:
        text = f"{duration(remaining)} left"
    css = f"sla-{status}"
    if status == SLAStatus.OK and clock.status != SLAStatus.MET:
        css = f"sla-{sla_urgency(clock)}"
    return {"name": name, "text": text, "css": css, "status": clock.status,
            "paused": paused if not clock.breached and clock.status != SLAStatus.MET else ""}


SOON_SECONDS = 30 * 60


def sla_urgency(clock) -> str:
    """How urgent a clock within its SLA is, by the share of its target still left: ``ok``
    (more than half, and more than 30 min), ``soon`` (a quarter to half, or under 30 min),
    ``warning`` (less than a quarter), so a critical with 14 min left is not coloured like a
    low with 3 h of its 4 left."""
    remaining = clock.remaining_seconds
    if remaining is None or not clock.running and clock.status != SLAStatus.PAUSED:
        return "ok"
    window = clock.elapsed_seconds + remaining
    if remaining <= 0 or window <= 0:
        return "warning"
    share = remaining / window
    level = "ok" if share > 0.5 else "soon" if share > 0.25 else "warning"
    if level == "ok" and remaining < SOON_SECONDS:
        level = "soon"  # whatever the target, half an hour is little
    return level


def sla_summary(incident, state) -> dict:
    """What the queue shows of an incident's SLA: the clock that matters now, in colour.

    Open and not acknowledged: the response clock (unless resolution is already
    breached); open and acknowledged: the resolution clock (paused on hold);
    resolved or closed: whether resolution was met; cancelled: nothing.
    ``other_breached`` names the other clock when it was breached (flags never un-set).
    """
    if incident.state == IncidentState.CANCELLED:
        return {"name": "", "text": "—", "css": "text-body-secondary", "status": "", "other_breached": "",
                "paused": ""}
    if incident.acknowledged_at is None and not state.resolution.breached:
        shown, other = _clock_summary("response", state.response), ("resolution", state.resolution)
    else:
        shown, other = _clock_summary("resolution", state.resolution), ("response", state.response)
    shown["other_breached"] = other[0] if other[1].breached and not shown["status"] == "breached" else ""
    return shown


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template (None when missing)."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def split_words(value: str) -> list[str]:
    """``"a b"`` → ``["a", "b"]`` (a list literal in a template)."""
    return value.split()
