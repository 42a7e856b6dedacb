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
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class NotificationQueue(models.TextChoices):
    """Celery queues: `high` carries immediate and urgent notifications."""

    HIGH = "high", "High priority"
    DEFAULT = "default", "Default"
