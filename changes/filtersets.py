"""One FilterSet for change requests, shared by the API, the web list and the calendar."""

from __future__ import annotations

import django_filters

from opsdesk.datetimes import OffsetDateTimeFilter
from opsdesk.models import Service, Team
from opsdesk.search import text_search

from .choices import ChangeState, ChangeType, ConflictKind, Risk
from .models import ChangeRequest
from .selectors import awaiting_approval_filter


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
    awaiting_my_approval = django_filters.BooleanFilter(
        method="filter_awaiting_my_approval", label="Awaiting my approval"
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
                  "conflict_kind", "awaiting_my_approval", "planned_after", "planned_before"]

    def search(self, queryset, name, value):
        """Every word in the number, title or description (``opsdesk.search``)."""
        return text_search(queryset, value, fields=ChangeRequest.SEARCH_FIELDS,
                           number_prefix=ChangeRequest.NUMBER_PREFIX)

    def filter_awaiting_my_approval(self, queryset, name, value):
        """Submitted changes waiting on the requesting user's decision in one of their board roles."""
        if value is None:
            return queryset
        user = getattr(self.request, "user", None)
        condition = awaiting_approval_filter(user) if user is not None else None
        if condition is None:
            return queryset.none() if value else queryset
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def filter_has_conflicts(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(conflicts=[]) if value else queryset.filter(conflicts=[])

    def filter_conflict_kind(self, queryset, name, value):
        """Changes with at least one conflict of this kind (the stored list, read as text: portable)."""
        if not value:
            return queryset
        return queryset.filter(conflicts__icontains=f'"kind": "{value}"')
