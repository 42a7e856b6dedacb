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


class IncidentSums(models.Model):
    """The additive partial aggregates of the incident rollups (``metrics/rollups.py``).

    Two kinds of columns: those of the incidents *detected* that day (``detected`` … ``automated``) and those
    of the incidents *resolved* that day (``resolved`` … ``follow_up_closed``). Durations are sums of integer
    microseconds, so a mean is ``sum ÷ count``, exact.
    """

    # Incidents detected that day.
    detected = models.IntegerField(default=0)
    detect_us = models.BigIntegerField(default=0)
    acknowledged = models.IntegerField(default=0)
    ack_us = models.BigIntegerField(default=0)
    resolved_now = models.IntegerField(default=0)
    response_met = models.IntegerField(default=0)
    resolution_met = models.IntegerField(default=0)
    detection_met = models.IntegerField(default=0)
    customers = models.BigIntegerField(default=0)
    automated = models.IntegerField(default=0)
    # Incidents resolved that day.
    resolved = models.IntegerField(default=0)
    resolve_us = models.BigIntegerField(default=0)
    business_us = models.BigIntegerField(default=0)
    restored = models.IntegerField(default=0)
    restore_us = models.BigIntegerField(default=0)
    follow_up_closed = models.IntegerField(default=0)

    class Meta:
        abstract = True


class IncidentRollup(IncidentSums):
    """The partial aggregates of the non-cancelled incidents of one local day × service × team × severity.

    The ids are plain integers (no foreign keys): a rollup row is derived data, rebuilt from the incidents.
    """

    day = models.DateField()
    service_id = models.IntegerField()
    team_id = models.IntegerField(null=True)
    severity = models.CharField(max_length=10)

    class Meta:
        indexes = [models.Index(fields=["day"], name="metric_incident_rollup_day")]

    def __str__(self) -> str:
        return f"Incident rollup {self.day} {self.service_id}/{self.team_id}/{self.severity}"


class IncidentScopeRollup(IncidentSums):
    """``IncidentRollup`` summed per local day and scope: a period with at most one filter reads a row a day.

    ``scope`` is ``all`` (key ``""``), ``service``, ``team`` (key: the id) or ``severity`` (key: the value),
    like ``IncidentHistogram``; built from the ``IncidentRollup`` rows of the same days.
    """

    day = models.DateField()
    scope = models.CharField(max_length=8)
    key = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [models.Index(fields=["scope", "day", "key"], name="metric_incident_scope_day")]

    def __str__(self) -> str:
        return f"Incident scope rollup {self.day} {self.scope}={self.key}"


class IncidentHistogram(models.Model):
    """How many durations fell in each log-spaced bucket, per local day, kind and scope (medians).

    ``kind``: ``ack`` (acknowledged − detected, by detected day) or ``resolve`` (resolved − detected, by
    resolved day). ``scope`` is ``all`` (key ``""``), ``service``, ``team`` (key: the id) or ``severity``
    (key: the value); ``counts`` maps bucket numbers (``metrics.rollups.bucket_of``) to counts.
    """

    day = models.DateField()
    kind = models.CharField(max_length=8)
    scope = models.CharField(max_length=8)
    key = models.CharField(max_length=20, blank=True)
    counts = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["kind", "scope", "key", "day"], name="metric_histogram_scope_day")]

    def __str__(self) -> str:
        return f"Histogram {self.day} {self.kind} {self.scope}={self.key}"


class RollupState(models.Model):
    """Up to which day (excluded) the rollups of a source were built, and in which time zone.

    Days from ``built_until`` on, and every day marked in ``StaleDay``, are computed live; a change of
    ``TIME_ZONE`` makes every day live until the rollups are rebuilt.
    """

    source = models.CharField(max_length=20, primary_key=True)
    time_zone = models.CharField(max_length=64)
    built_until = models.DateField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.source} rollups until {self.built_until} ({self.time_zone})"


class StaleDay(models.Model):
    """A past local day whose rollup rows of ``source`` no longer match the rows (a write touched them).

    Written on every save or delete of an incident and by the bulk updates (``opsdesk.rollups``); read
    as "compute this day live" until ``metrics.rollups.refresh`` rebuilds it and deletes the marks it read.
    Not unique: a mark written while a rebuild runs stays (the rebuild deletes only the ids it saw).
    """

    source = models.CharField(max_length=20)
    day = models.DateField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["source", "day"], name="metric_stale_source_day")]

    def __str__(self) -> str:
        return f"{self.source} {self.day} stale"


class DeliveryRollup(models.Model):
    """Additive partial sums of the changes, releases and deployments of one local day, for all or one service.

    ``service_id`` null: every row once (no service filter); an id: the rows that list that service (a change
    or release with two services counts in both). ``sums`` maps ``family.column`` (``metrics/delivery.py``)
    to integers (counts, sums of microseconds) and ``lead_time.hist`` to the lead-time histogram. Derived
    data, rebuilt from the rows like ``IncidentRollup``.
    """

    day = models.DateField()
    service_id = models.IntegerField(null=True)
    sums = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["day", "service_id"], name="metric_delivery_day_service")]

    def __str__(self) -> str:
        return f"Delivery rollup {self.day} {self.service_id or 'all'}"
