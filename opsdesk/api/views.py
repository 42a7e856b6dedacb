from rest_framework import viewsets

from opsdesk.filtersets import ServiceFilterSet, TeamFilterSet
from opsdesk.models import Service, Team

from .serializers import ServiceSerializer, TeamSerializer


class ServiceViewSet(viewsets.ModelViewSet):
    """Services that incidents, changes and releases point at."""

    queryset = Service.objects.select_related("owner_team")
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilterSet
    ordering_fields = ["name", "criticality"]


class TeamViewSet(viewsets.ModelViewSet):
    """Assignment and implementer groups."""

    queryset = Team.objects.prefetch_related("members")
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    ordering_fields = ["name"]
