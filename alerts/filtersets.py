"""Filters of the alert lists (the API's source alerts)."""

import django_filters

from opsdesk.datetimes import OffsetDateTimeFilter

from .models import Alert


class AlertFilterSet(django_filters.FilterSet):
    last_seen_after = OffsetDateTimeFilter(field_name="last_seen", lookup_expr="gte")
    last_seen_before = OffsetDateTimeFilter(field_name="last_seen", lookup_expr="lt")

    class Meta:
        model = Alert
        fields = ["status", "fingerprint", "current"]
