"""One FilterSet for change requests, shared by the API, the web list and the calendar."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from opsdesk.models import Service, Team

from .choices import ChangeState, ChangeType, Risk
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
    planned_after = django_filters.DateTimeFilter(
        field_name="planned_end", lookup_expr="gte", label="Planned window ends after"
    )
    planned_before = django_filters.DateTimeFilter(
        field_name="planned_start", lookup_expr="lte", label="Planned window starts before"
    )

    class Meta:
        model = ChangeRequest
        fields = ["q", "state", "change_type", "risk", "service", "implementer", "in_freeze",
                  "planned_after", "planned_before"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__icontains=value) | Q(title__icontains=value) | Q(description__icontains=value)
        )
