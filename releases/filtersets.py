"""One FilterSet for releases, shared by the API and the web list."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model

from opsdesk.models import Service
from opsdesk.search import text_search

from .choices import ReleaseState
from .models import Release


class ReleaseFilterSet(django_filters.FilterSet):
    """Filters of the release list: ``state`` (repeatable), ``service``, ``release_manager``,
    ``planned_after`` / ``planned_before`` (inclusive, on ``planned_date``) and ``q``
    (every word in the number, name or version)."""

    q = django_filters.CharFilter(method="search", label="Search")
    state = django_filters.MultipleChoiceFilter(
        choices=ReleaseState.choices, widget=forms.SelectMultiple(attrs={"size": 3})
    )
    service = django_filters.ModelChoiceFilter(
        field_name="services", queryset=Service.objects.all(), label="Service", distinct=True
    )
    release_manager = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(managed_releases__isnull=False).distinct().order_by("username")
    )
    planned_after = django_filters.DateFilter(
        field_name="planned_date", lookup_expr="gte", label="Planned from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    planned_before = django_filters.DateFilter(
        field_name="planned_date", lookup_expr="lte", label="Planned until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Release
        fields = ["q", "state", "service", "release_manager", "planned_after", "planned_before"]

    def search(self, queryset, name, value):
        """Every word in the number, name or version (``opsdesk.search``)."""
        return text_search(queryset, value, fields=Release.SEARCH_FIELDS, title_field="name",
                           number_prefix=Release.NUMBER_PREFIX)
