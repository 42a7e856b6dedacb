"""Choices shared by every app: one place for each name."""

from django.db import models


class Criticality(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Role(models.TextChoices):
    """The role groups of §6; the value is the Django group name."""

    SERVICE_DESK = "Service Desk"
    INCIDENT_MANAGERS = "Incident Managers"
    CHANGE_MANAGERS = "Change Managers"
    TECH_LEADS = "Tech Leads"
    PRODUCT_OWNERS = "Product Owners"
    OPS_MANAGERS = "Ops Managers"
    RELEASE_MANAGERS = "Release Managers"
    API_READERS = "API Readers"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Committed before the message is handed to the channel: a row left here by a
    # killed worker is retried, with the same message id, once its lease has passed.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class NotificationQueue(models.TextChoices):
    """Celery queues: `high` carries immediate and urgent notifications."""

    HIGH = "high", "High priority"
    DEFAULT = "default", "Default"


class AuditKind(models.TextChoices):
    """What an ``AuditEvent`` records (§6)."""

    LOGIN = "login", "Login"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGOUT = "logout", "Logout"
    LOCKOUT = "lockout", "Lockout"
    PERMISSION_DENIED = "permission_denied", "Permission denied"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    ADMIN_ADD = "admin_add", "Admin add"
    ADMIN_CHANGE = "admin_change", "Admin change"
    ADMIN_DELETE = "admin_delete", "Admin delete"
