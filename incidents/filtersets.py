"""One FilterSet for incidents, shared by the API list, the web queue and selectors."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from opsdesk.models import Service, Team

from .choices import IncidentState, Severity
from .models import Incident


class IncidentFilterSet(django_filters.FilterSet):
    """Filters of §7: state (several), severity, service, team, assignee, breached,
    detected_after / detected_before (ISO 8601), and ``q`` (number, title, description)."""

    q = django_filters.CharFilter(method="search", label="Search")
    state = django_filters.MultipleChoiceFilter(choices=IncidentState.choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    service = django_filters.ModelChoiceFilter(queryset=Service.objects.all())
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    assignee = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    )
    breached = django_filters.BooleanFilter(method="filter_breached", label="SLA breached")
    detected_after = django_filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    detected_before = django_filters.IsoDateTimeFilter(field_name="detected_at", lookup_expr="lt")
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
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )

    def filter_breached(self, queryset, name, value):
        breached = Q(response_breached=True) | Q(resolution_breached=True)
        if value is None:
            return queryset
        return queryset.filter(breached) if value else queryset.exclude(breached)
