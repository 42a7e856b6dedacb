"""One FilterSet for change requests, shared by the API, the web list and the calendar."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from opsdesk.datetimes import OffsetDateTimeFilter
from opsdesk.models import Service, Team

from .choices import ChangeState, ChangeType, ConflictKind, Risk
from .models import ChangeRequest


class ChangeRequestFilterSet(django_filters.FilterSet):
    """Filters of the change list.

    ``planned_after``/``planned_before`` select changes whose planned window
    *overlaps* the given range (window ends after ``planned_after``, starts before
    ``planned_before``), which is what a calendar page needs.
    """

    q = django_filters.CharFilter(method="search", label="Search")
    state = django_filters.MultipleChoiceFilter(choices=ChangeState.choices)
    change_type = django_filters.ChoiceFilter(choices=ChangeType.choices)
    risk = django_filters.ChoiceFilter(choices=Risk.choices)
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), label="Service"
    )
    implementer = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    in_freeze = django_filters.BooleanFilter()
    has_conflicts = django_filters.BooleanFilter(method="filter_has_conflicts", label="Has conflicts")
    conflict_kind = django_filters.ChoiceFilter(
        choices=ConflictKind.choices, method="filter_conflict_kind", label="Conflict kind"
    )
    planned_after = OffsetDateTimeFilter(
        field_name="planned_end", lookup_expr="gte", label="Planned window ends after"
    )
    planned_before = OffsetDateTimeFilter(
        field_name="planned_start", lookup_expr="lte", label="Planned window starts before"
    )

    class Meta:
        model = ChangeRequest
        fields = ["q", "state", "change_type", "risk", "service", "implementer", "in_freeze", "has_conflicts",
                  "conflict_kind", "planned_after", "planned_before"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )

    def filter_has_conflicts(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(conflicts=[]) if value else queryset.filter(conflicts=[])

    def filter_conflict_kind(self, queryset, name, value):
        """Changes with at least one conflict of this kind (the stored list, read as text: portable)."""
        if not value:
            return queryset
        return queryset.filter(conflicts__icontains=f'"kind": "{value}"')
