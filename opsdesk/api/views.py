from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from opsdesk import services
from opsdesk.filtersets import ServiceFilterSet, TeamFilterSet
from opsdesk.models import Service, Team

from .serializers import ServiceSerializer, TeamSerializer

ARCHIVE_DESCRIPTION = (
    "Archives it (`active` false) instead of deleting: everything that points at it keeps it, "
    "and it leaves every choice list. `PATCH {\"active\": true}` restores it."
)


class ServiceViewSet(viewsets.ModelViewSet):
    """Services that incidents, changes and releases point at; DELETE archives (§6)."""

    queryset = Service.objects.select_related("owner_team")
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilterSet
    ordering_fields = ["name", "criticality"]

    @extend_schema(summary="Archive a service", description=ARCHIVE_DESCRIPTION, responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.service_archive(service=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamViewSet(viewsets.ModelViewSet):
    """Assignment and implementer groups; DELETE archives (§6)."""

    queryset = Team.objects.prefetch_related("members")
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    ordering_fields = ["name"]

    @extend_schema(summary="Archive a team", description=ARCHIVE_DESCRIPTION, responses={204: None})
    def destroy(self, request, *args, **kwargs):
        services.team_archive(team=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
