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


# --- the incident process (§2.1) ----------------------------------------------


class Phase(models.TextChoices):
    DETECTION = "detection", "Detection"
    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"
    FOLLOW_UP = "follow_up", "Follow-up"


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class StepKey(models.TextChoices):
    """The handbook's sixteen steps (the system observes some of them, see ``incidents.steps``)."""

    IDENTIFY_INCIDENT = "identify_incident", "Identify the incident"
    INITIAL_ASSESSMENT = "initial_assessment", "Initial assessment"
    PRIORITY_ASSIGNMENT = "priority_assignment", "Assign the priority"
    TEAM_NOTIFICATION = "team_notification", "Notify the team"
    TEAM_ASSEMBLY = "team_assembly", "Assemble the team"
    IMPACT_ANALYSIS = "impact_analysis", "Analyse the impact"
    CONTAINMENT_MEASURES = "containment_measures", "Contain the damage"
    STAKEHOLDER_COMMUNICATION = "stakeholder_communication", "Inform the stakeholders"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis", "Find the root cause"
    SOLUTION_IMPLEMENTATION = "solution_implementation", "Implement the solution"
    VERIFICATION_TESTING = "verification_testing", "Verify and test"
    SERVICE_RESTORATION = "service_restoration", "Restore the service"
    INCIDENT_DOCUMENTATION = "incident_documentation", "Document the incident"
    LESSONS_LEARNED = "lessons_learned", "Record the lessons learned"
    PROCESS_IMPROVEMENT = "process_improvement", "Improve the process"
    PREVENTIVE_MEASURES = "preventive_measures", "Plan preventive measures"


# The handbook's template (§2.1): phase, key, required — in the order of work.
HANDBOOK_STEPS = (
    (Phase.DETECTION, StepKey.IDENTIFY_INCIDENT, False),
    (Phase.DETECTION, StepKey.INITIAL_ASSESSMENT, False),
    (Phase.DETECTION, StepKey.PRIORITY_ASSIGNMENT, True),
    (Phase.DETECTION, StepKey.TEAM_NOTIFICATION, True),
    (Phase.RESPONSE, StepKey.TEAM_ASSEMBLY, True),
    (Phase.RESPONSE, StepKey.IMPACT_ANALYSIS, False),
    (Phase.RESPONSE, StepKey.CONTAINMENT_MEASURES, False),
    (Phase.RESPONSE, StepKey.STAKEHOLDER_COMMUNICATION, False),
    (Phase.RESOLUTION, StepKey.ROOT_CAUSE_ANALYSIS, False),
    (Phase.RESOLUTION, StepKey.SOLUTION_IMPLEMENTATION, False),
    (Phase.RESOLUTION, StepKey.VERIFICATION_TESTING, False),
    (Phase.RESOLUTION, StepKey.SERVICE_RESTORATION, True),
    (Phase.FOLLOW_UP, StepKey.INCIDENT_DOCUMENTATION, True),
    (Phase.FOLLOW_UP, StepKey.LESSONS_LEARNED, True),
    (Phase.FOLLOW_UP, StepKey.PROCESS_IMPROVEMENT, False),
    (Phase.FOLLOW_UP, StepKey.PREVENTIVE_MEASURES, False),
)


class ActionItemState(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class StatusAudience(models.TextChoices):
    INTERNAL = "internal", "Internal"
    STAKEHOLDERS = "stakeholders", "Stakeholders"
