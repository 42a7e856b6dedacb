"""The shared kernel's models: Team, Service, the transition log and the notification outbox."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from .choices import AuditKind, Criticality, NotificationChannel, NotificationQueue, NotificationStatus
from .exceptions import AppendOnlyError


def email_list(value: str) -> list[str]:
    """``"a@x, b@y"`` → ``["a@x", "b@y"]`` (commas, semicolons or new lines; repeats dropped)."""
    parts = (part.strip() for part in (value or "").replace(";", ",").replace("\n", ",").split(","))
    return list(dict.fromkeys(part for part in parts if part))


def validate_email_list(value: str) -> None:
    """Every address of a comma-separated list is a valid email address (names the bad ones)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    bad = []
    for address in email_list(value):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not an email address: {', '.join(bad)}.")


class Team(models.Model):
    """An assignment group for incidents and the implementer group for changes."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_teams",
    )
    email = models.EmailField(blank=True)
    webhook_url = models.URLField(blank=True, help_text="Optional chat webhook (JSON POST).")
    active = models.BooleanField(
        default=True, help_text="Archived teams (not active) keep their history but leave every choice list."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A business or technical service that incidents, changes and releases point at."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    owner_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )
    criticality = models.CharField(
        max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    stakeholder_emails = models.TextField(
        blank=True,
        validators=[validate_email_list],
        help_text="Comma-separated addresses that receive stakeholder status updates of its incidents.",
    )
    active = models.BooleanField(
        default=True, help_text="Archived services (not active) keep their history but leave every choice list."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def stakeholder_addresses(self) -> list[str]:
        """The stakeholder addresses, cleaned and without repeats."""
        return email_list(self.stakeholder_emails)


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes: the rows are an audit trail."""

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} entries cannot be changed.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} entries cannot be deleted.")


class AppendOnlyModel(models.Model):
    """A model whose rows are written once and never edited or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} entries cannot be deleted.")


class TransitionLog(AppendOnlyModel):
    """One state transition of an incident, change or release (append-only)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    object_number = models.CharField(max_length=20, blank=True)
    transition = models.CharField(max_length=50)
    from_state = models.CharField(max_length=30)
    to_state = models.CharField(max_length=30)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for transitions made by the system (SLA sweep, integrations).",
    )
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.object_number} {self.transition}: {self.from_state} → {self.to_state}"


class ByteOrderCharField(models.CharField):
    """A ``CharField`` compared byte by byte: collation ``"C"`` on PostgreSQL (SQLite compares bytes,
    ``BINARY``, by default). For keys that are only ever compared for equality, where the locale's
    rules buy nothing and cost every comparison of every index insertion and lookup (the outbox's
    dedupe key: bench/NOTES.md, "The SLA sweep at 5 000 crossings"). UTF-8 text sorts the same way
    by bytes as by code points."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


class Notification(models.Model):
    """An outbox row: written in the event's transaction, delivered by a Celery task."""

    channel = models.CharField(max_length=10, choices=NotificationChannel.choices)
    recipient = models.CharField(max_length=500, help_text="Email address or webhook URL.")
    subject = models.CharField(max_length=250)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    queue = models.CharField(
        max_length=10, choices=NotificationQueue.choices, default=NotificationQueue.DEFAULT
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Compared byte by byte ("C"): 19 new keys per breach go into its unique index.
    dedupe_key = ByteOrderCharField(
        max_length=250,
        null=True,
        blank=True,
        help_text="Same key, same notification: an event notifies each recipient once.",
    )
    # No index of its own: (content_type, object_id) leads with it. No database constraint either: its check
    # runs once per outbox row at commit (~0.5 s of a 5 000-breach sweep); content types are only ever deleted
    # through Django, whose SET_NULL needs none (bench/NOTES.md, "The SLA sweep at 5 000 crossings").
    content_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, db_index=False, db_constraint=False
    )
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    subject_object = GenericForeignKey("content_type", "object_id")

    class Meta:
        ordering = ["-created_at", "-id"]
        # Each index costs every outbox row written (the SLA sweep writes ~19 per breach): no index is
        # here twice, and none serves LIKE (Django's ``_like`` twins of ``unique``/``db_index`` text
        # columns), which no query uses (bench/NOTES.md, "the outbox insert").
        # The retry sweep's and the admin's "not sent yet" rows: one partial index, not one on status and one
        # on next_attempt_at (a sent row leaves it).
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["status", "next_attempt_at"], condition=~models.Q(status=NotificationStatus.SENT),
                         name="opsdesk_notification_unsent"),
        ]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="opsdesk_notification_dedupe_key")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}: {self.subject}"


class AuditEvent(AppendOnlyModel):
    """One security-relevant event (§6, append-only): a login, a failed login, a logout, a lockout,
    a permission denial, an API or feed token issued or revoked, an add, change or delete in the admin."""

    kind = models.CharField(max_length=20, choices=AuditKind.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Who did it (empty: anonymous, or a username that does not exist).",
    )
    username = models.CharField(max_length=150, blank=True, help_text="The name given, also when it matches nobody.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=500, blank=True)
    time = models.DateTimeField(default=timezone.now, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True, help_text="The token or admin object concerned.")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username or '-'} {self.method} {self.path}".strip()
