"""Automation choices: the rule keys of §8 and the outcomes of a run."""

from django.db import models


class RuleKey(models.TextChoices):
    RECURRING_INCIDENTS_TO_CHANGE = "recurring_incidents_to_change", "Recurring incidents → draft change"
    APPROVED_CHANGE_TO_RELEASE = "approved_change_to_release", "Approved change → release planning"
    FAILED_DEPLOYMENT_TO_INCIDENT = "failed_deployment_to_incident", "Failed deployment → incident"
    AUTO_ASSIGN = "auto_assign", "Assign new incidents within their team"
    ALERT_TO_INCIDENT = "alert_to_incident", "Monitoring alert → incident"


class RunOutcome(models.TextChoices):
    ACTED = "acted", "Acted"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class RunObjectAction(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"


class AssignStrategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin (each member in turn)"
    LEAST_LOADED = "least_loaded", "Least loaded (fewest open incidents)"
    NONE = "none", "None (leave unassigned)"
