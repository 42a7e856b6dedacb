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


class SLAClockName(models.TextChoices):
    """The two SLA clocks of an incident."""

    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class SLAStatus(models.TextChoices):
    """Where an SLA clock (or the incident as a whole) stands, for colour and words."""

    OK = "ok", "On track"
    WARNING = "warning", "Warning"
    BREACHED = "breached", "Breached"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"


class SLAPausedReason(models.TextChoices):
    """Why a running SLA clock stands still."""

    ON_HOLD = "on_hold", "on hold"
    OUTSIDE_BUSINESS_HOURS = "outside_business_hours", "outside business hours"


WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
