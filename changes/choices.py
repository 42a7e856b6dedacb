"""Change choices: states, types, risk, approval roles and decisions."""

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
