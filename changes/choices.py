"""Change choices: states, types, risk and its questionnaire, conflicts, approval roles and decisions."""

from __future__ import annotations

from django.db import models

from opsdesk.choices import Role


class ChangeState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"


OUTCOME_STATES = (ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK)


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"

    @classmethod
    def for_score(cls, score: int) -> Risk:
        """The risk a score means (§3.1): low < 35 ≤ medium < 65 ≤ high."""
        if score >= RISK_HIGH_FROM:
            return cls.HIGH
        if score >= RISK_MEDIUM_FROM:
            return cls.MEDIUM
        return cls.LOW


RISK_MEDIUM_FROM = 35
RISK_HIGH_FROM = 65


class UserImpact(models.TextChoices):
    NONE = "none", "No users affected"
    SOME = "some", "Some users affected"
    ALL = "all", "All users affected"


class Complexity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


# The risk questionnaire (§3.1): key -> the question, and the allowed answers.
RISK_QUESTIONS = {
    "user_impact": ("Which users does the change affect?", UserImpact.values),
    "complexity": ("How complex is the change?", Complexity.values),
    "tested_in_staging": ("Was the change tested in staging?", [True, False]),
    "rollback_tested": ("Was the rollback tested?", [True, False]),
    "outage_required": ("Does the change need an outage?", [True, False]),
}


class RiskFactor(models.TextChoices):
    """The parts of a risk score (``risk_factors[].factor``)."""

    USER_IMPACT = "user_impact", "User impact"
    COMPLEXITY = "complexity", "Complexity"
    NOT_TESTED_IN_STAGING = "not_tested_in_staging", "Not tested in staging"
    ROLLBACK_NOT_TESTED = "rollback_not_tested", "Rollback not tested"
    OUTAGE_REQUIRED = "outage_required", "Outage required"
    SERVICE_CRITICALITY = "service_criticality", "Service criticality"
    FAILURE_HISTORY = "failure_history", "Failure history (180 days)"


class ConflictKind(models.TextChoices):
    """What a change's planned window collides with (``conflicts[].kind``)."""

    OVERLAP = "overlap", "Overlaps another change"
    FREEZE = "freeze", "Inside a change freeze"
    OUTSIDE_MAINTENANCE_WINDOW = "outside_maintenance_window", "Outside the maintenance window"
    IMPLEMENTER_BUSY = "implementer_busy", "Implementer busy"


class ApprovalRole(models.TextChoices):
    TECHNICAL = "technical", "Technical"
    BUSINESS = "business", "Business"
    OPERATIONS = "operations", "Operations"


# Which group may approve in which role.
APPROVAL_ROLE_GROUP = {
    ApprovalRole.TECHNICAL: Role.TECH_LEADS,
    ApprovalRole.BUSINESS: Role.PRODUCT_OWNERS,
    ApprovalRole.OPERATIONS: Role.OPS_MANAGERS,
}

# The roles whose approval a change of each type needs.
REQUIRED_APPROVAL_ROLES = {
    ChangeType.STANDARD: (),
    ChangeType.NORMAL: (ApprovalRole.TECHNICAL, ApprovalRole.BUSINESS, ApprovalRole.OPERATIONS),
    ChangeType.EMERGENCY: (ApprovalRole.OPERATIONS,),
}


class Decision(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
