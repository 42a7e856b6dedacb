"""Metric snapshots: one row of the day's figures per day (§5)."""

from django.db import models
from django.utils import timezone


class MetricSnapshot(models.Model):
    """The figures of one day ``[date, date + 1)`` as the metrics API returns them."""

    date = models.DateField(unique=True)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"Metrics {self.date}"
