"""Filters of the alert lists (the API's source alerts)."""

import django_filters

from .models import Alert


class AlertFilterSet(django_filters.FilterSet):
    last_seen_after = django_filters.IsoDateTimeFilter(field_name="last_seen", lookup_expr="gte")
    last_seen_before = django_filters.IsoDateTimeFilter(field_name="last_seen", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["status", "fingerprint", "current"]
