"""Writes of the change process, one module per job (like Zulip's ``zerver/actions``).

- ``changes``: create, edit, the risk override, transitions;
- ``board``: the board's decisions and CAB meetings;
- ``risk``: the risk score;
- ``feed``: calendar feed tokens.

Reactions across apps (recurring incidents, release planning) are automation
rules (``automation/rules/``), which call these services.

Callers import from ``changes.services``; the names below are the public API.
"""

from . import board, changes, feed, risk
from .board import (
    cab_decide,
    cab_meeting_create,
    cab_meeting_update,
    cab_record_minutes,
    change_approve,
    change_reject,
)
from .changes import (
    EDITABLE_FIELDS,
    INCIDENT_COLLECTING_STATES,
    change_create,
    change_link_incidents,
    change_transition,
    change_update,
    validate_change,
)
from .feed import feed_token_issue, feed_token_revoke, feed_token_user
from .risk import apply_risk, assess_risk, validate_risk_answers

__all__ = [
    "EDITABLE_FIELDS",
    "INCIDENT_COLLECTING_STATES",
    "apply_risk",
    "assess_risk",
    "board",
    "cab_decide",
    "cab_meeting_create",
    "cab_meeting_update",
    "cab_record_minutes",
    "change_approve",
    "change_create",
    "change_link_incidents",
    "change_reject",
    "change_transition",
    "change_update",
    "changes",
    "feed",
    "feed_token_issue",
    "feed_token_revoke",
    "feed_token_user",
    "risk",
    "validate_change",
    "validate_risk_answers",
]
