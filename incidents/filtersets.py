"""One FilterSet for incidents, shared by the API list, the web queue and selectors."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from opsdesk.datetimes import OffsetDateTimeFilter
from opsdesk.models import Service, Team
from opsdesk.search import Related, text_search

from .choices import IncidentState, Severity
from .models import Incident, IncidentNote


class IncidentFilterSet(django_filters.FilterSet):
    """Filters of §7: state (several), severity, service, team, assignee, breached,
    detected_after / detected_before (ISO 8601), and ``q`` (every word in the number, title, description or notes)."""

    q = django_filters.CharFilter(method="search", label="Search")
    # A column of the row itself: no join can repeat a row, so no SELECT DISTINCT (a sort of every
    # column on disk at a million rows).
    state = django_filters.MultipleChoiceFilter(choices=IncidentState.choices, distinct=False)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    service = django_filters.ModelChoiceFilter(queryset=Service.objects.all())
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    assignee = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    )
    breached = django_filters.BooleanFilter(method="filter_breached", label="SLA breached")
    detected_after = OffsetDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    detected_before = OffsetDateTimeFilter(field_name="detected_at", lookup_expr="lt")
    major = django_filters.BooleanFilter(field_name="major", label="Major incident")
    follow_up_overdue = django_filters.BooleanFilter(method="filter_follow_up_overdue", label="Follow-up overdue")

    class Meta:
        model = Incident
        fields = ["q", "state", "severity", "service", "team", "assignee", "breached", "detected_after",
                  "detected_before", "major", "follow_up_overdue"]

    def filter_follow_up_overdue(self, queryset, name, value):
        """Resolved, and past ``follow_up_due`` (flagged by the sweep or not yet): the review is late."""
        if value is None:
            return queryset
        overdue = Q(state=IncidentState.RESOLVED, follow_up_due__lte=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def search(self, queryset, name, value):
        """Every word in the number, title, description or a work note (``opsdesk.search``)."""
        return text_search(queryset, value, fields=Incident.SEARCH_FIELDS, number_prefix=Incident.NUMBER_PREFIX,
                           related=(Related(IncidentNote.objects.all(), "incident_id", ("body",)),))

    def filter_breached(self, queryset, name, value):
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        if value is None:
            return queryset
        return queryset.filter(breached) if value else queryset.exclude(breached)
