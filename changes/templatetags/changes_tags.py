"""Template helpers of the change pages: state and type badges in one colour scheme."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from changes.choices import ChangeState, ChangeType, ConflictKind, Risk, RiskFactor

register = template.Library()

STATE_COLOURS = {
    ChangeState.DRAFT: "secondary",
    ChangeState.SUBMITTED: "info",
    ChangeState.APPROVED: "primary",
    ChangeState.REJECTED: "danger",
    ChangeState.IN_PROGRESS: "warning",
    ChangeState.VERIFYING: "warning",
    ChangeState.COMPLETED: "success",
    ChangeState.FAILED: "danger",
    ChangeState.ROLLED_BACK: "dark",
    ChangeState.CANCELLED: "light",
}

TYPE_COLOURS = {
    ChangeType.STANDARD: "success",
    ChangeType.NORMAL: "primary",
    ChangeType.EMERGENCY: "danger",
}

RISK_COLOURS = {Risk.LOW: "success", Risk.MEDIUM: "warning", Risk.HIGH: "danger"}


def _badge(colour: str, label: str, extra: str = ""):
    text = "text-bg-" + colour
    return format_html('<span class="badge {}{}">{}</span>', text, extra, label)


@register.simple_tag
def change_state_badge(change) -> str:
    """A Bootstrap badge with the change's state label."""
    return _badge(STATE_COLOURS.get(change.state, "secondary"), change.get_state_display(),
                  " border" if change.state == ChangeState.CANCELLED else "")


@register.simple_tag
def change_type_badge(change) -> str:
    """A Bootstrap badge with the change's type label."""
    return _badge(TYPE_COLOURS.get(change.change_type, "secondary"), change.get_change_type_display())


@register.simple_tag
def change_risk_badge(change) -> str:
    """A subtle badge with the change's risk."""
    colour = RISK_COLOURS.get(change.risk, "secondary")
    return format_html(
        '<span class="badge bg-{}-subtle text-{}-emphasis border border-{}-subtle">{}</span>',
        colour, colour, colour, change.get_risk_display(),
    )


@register.filter
def state_colour(state: str) -> str:
    """The Bootstrap colour name of a change state (for chips and borders)."""
    return STATE_COLOURS.get(state, "secondary")


@register.filter
def type_colour(change_type: str) -> str:
    """The Bootstrap colour name of a change type."""
    return TYPE_COLOURS.get(change_type, "secondary")


@register.filter
def state_label(state: str) -> str:
    """The human label of a change state value (for the transition timeline)."""
    try:
        return ChangeState(state).label
    except ValueError:
        return state


@register.filter
def transition_label(name: str) -> str:
    """A transition name as words (``roll_back`` → ``roll back``; ``approval:technical`` → a decision)."""
    if name.startswith("approval:"):
        return f"board decision ({name.split(':', 1)[1]})"
    return name.replace("_", " ")


@register.filter
def conflict_label(kind: str) -> str:
    """The label of a conflict kind (``outside_maintenance_window`` → "Outside the maintenance window")."""
    try:
        return ConflictKind(kind).label
    except ValueError:
        return kind


@register.filter
def risk_factor_label(factor: str) -> str:
    """The label of a risk factor key."""
    try:
        return RiskFactor(factor).label
    except ValueError:
        return factor
