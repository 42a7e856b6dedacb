import django_filters

from .models import Service, Team


class ServiceFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Service
        fields = ["name", "slug", "criticality", "owner_team", "active"]


class TeamFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Team
        fields = ["name", "members", "active"]
