"""Incident choices: states, severities, notification levels, escalation tiers."""

from django.db import models


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class IncidentState(models.TextChoices):
    DETECTED = "detected", "Detected"
    RESPONDING = "responding", "Responding"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (IncidentState.DETECTED, IncidentState.RESPONDING, IncidentState.ON_HOLD)


class NotificationLevel(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate"
    URGENT = "urgent", "Urgent"
    STANDARD = "standard", "Standard"
    ROUTINE = "routine", "Routine"


class CancelReason(models.TextChoices):
    FALSE_ALARM = "false_alarm", "False alarm"
    DUPLICATE = "duplicate", "Duplicate"
    OTHER = "other", "Other"
