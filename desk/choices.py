"""Choices of the desk tools: the lists a filter is saved for, the records that take attachments."""

from django.db import models


class ListKey(models.TextChoices):
    """A list page whose filter can be saved (the FilterSet of that model)."""

    INCIDENTS = "incidents", "Incidents"
    CHANGES = "changes", "Changes"
    RELEASES = "releases", "Releases"


class RecordKind(models.TextChoices):
    """A record that takes attachments."""

    INCIDENT = "incident", "Incident"
    CHANGE = "change", "Change"
