"""Saved personal filters and attachments."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from .choices import ListKey


class SavedFilter(models.Model):
    """A user's named filter of a list (the list's query string), private to that user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    list = models.CharField(max_length=20, choices=ListKey.choices)
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True, help_text="The list's query string, without the page.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["list", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "list", "name"], name="saved_filter_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_list_display()}, {self.user})"


def attachment_path(instance: Attachment, filename: str) -> str:
    """A random name in a folder per month: the uploaded name never becomes a path."""
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file (screenshot, log) attached to an incident or a change, kept in the default storage."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255, help_text="The name it was uploaded with (shown, and downloaded as).")
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return self.filename
