"""Incident API: CRUD (no delete), transitions, escalation and notes — all through services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from opsdesk.api.workflow import transition_actions

from .. import calendars, services
from ..choices import Severity
from ..filtersets import IncidentFilterSet
from ..models import BusinessCalendar, Incident, SLAPolicy
from ..selectors import incident_list
from .serializers import (
    BusinessCalendarSerializer,
    CancelInput,
    CloseInput,
    EscalateInput,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentNoteSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    ResolveInput,
    SLAPolicySerializer,
)

SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class IncidentOrderingFilter(OrderingFilter):
    """``?ordering=severity`` sorts by rank (critical first), not alphabetically."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        mapped = []
        for term in ordering:
            if term.lstrip("-") == "severity":
                term = term.replace("severity", "severity_rank")
            mapped.append(term)
        return mapped


@transition_actions(Incident, inputs={"resolve": ResolveInput, "close": CloseInput, "cancel": CancelInput})
class IncidentViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents (§2): log, read, edit, move through their lifecycle, escalate, add notes.

    Confidential incidents are invisible (404) to everyone but Incident Managers,
    the incident's team and its reporter. Changing ``severity`` by PATCH needs the
    severity-change permission and recomputes the SLA deadlines.
    """

    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    filter_backends = [*viewsets.GenericViewSet.filter_backends[:1], IncidentOrderingFilter]
    ordering_fields = ["detected_at", "severity", "state", "response_due", "resolution_due", "number"]
    ordering = ["-detected_at", "-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    transition_service = staticmethod(services.incident_transition)
    queryset = Incident.objects.none()  # for the schema and permissions; get_queryset does the work

    def get_serializer_class(self):
        # The list stays lean; one incident (detail, and the answer to every write) carries its alerts.
        return IncidentSerializer if self.action == "list" else IncidentDetailSerializer

    def get_queryset(self):
        incidents = incident_list(user=self.request.user)
        if self.action != "list":
            incidents = incidents.prefetch_related("alerts__source")  # the alert intake's reverse relation
        return incidents.annotate(
            severity_rank=Case(
                *[When(severity=s, then=Value(rank)) for s, rank in SEVERITY_RANK.items()],
                output_field=IntegerField(),
            )
        )

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request, *args, **kwargs):
        body = IncidentCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        incident = services.incident_create(by=request.user, **body.validated_data)
        incident = self.get_queryset().get(pk=incident.pk)
        return Response(self.get_serializer(incident).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=IncidentUpdateSerializer, responses={200: IncidentSerializer})
    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        body = IncidentUpdateSerializer(instance, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.incident_update(incident=instance, by=request.user, **body.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)

    @extend_schema(
        request=EscalateInput,
        responses={200: IncidentSerializer},
        summary="Escalate to the next tier",
        description="Raises the escalation level by one and notifies the next tier (1: team lead, "
        "2: Incident Managers, 3: Ops Managers). 403 without the permission, 409 at level 3 or when closed.",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def escalate(self, request, pk=None):
        instance = self.get_object()
        body = EscalateInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_escalate(incident=instance, by=request.user, comment=body.validated_data["comment"])
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)

    @extend_schema(
        methods=["GET"], request=None, responses={200: IncidentNoteSerializer(many=True)}, summary="Work notes"
    )
    @extend_schema(
        methods=["POST"],
        request=IncidentNoteSerializer,
        responses={201: IncidentNoteSerializer},
        summary="Add a work note",
    )
    @action(detail=True, methods=["get", "post"], permission_classes=[IsAuthenticated], pagination_class=None,
            filter_backends=[])
    def notes(self, request, pk=None):
        instance = self.get_object()
        if request.method == "POST":
            body = IncidentNoteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            note = services.incident_add_note(incident=instance, by=request.user, body=body.validated_data["body"])
            return Response(IncidentNoteSerializer(note).data, status=status.HTTP_201_CREATED)
        if not request.user.has_perm("incidents.view_incidentnote"):
            raise PermissionDenied("You may not read incident notes.")
        notes = instance.notes.select_related("author")
        return Response(IncidentNoteSerializer(notes, many=True).data)



class BusinessCalendarViewSet(viewsets.ModelViewSet):
    """Business-hours calendars (§2): read with ``view_businesscalendar``; superusers and
    Incident Managers create, change (re-timing the open incidents of the policies that
    count in it) and delete them (409 while a policy uses one)."""

    serializer_class = BusinessCalendarSerializer
    queryset = BusinessCalendar.objects.prefetch_related("policies")
    filter_backends = [OrderingFilter]
    ordering_fields = ["name", "time_zone"]
    ordering = ["name"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = calendars.calendar_create(
            by=self.request.user, name=data.get("name"), time_zone=data.get("time_zone"),
            hours=data.get("hours"), holidays=data.get("holidays"),
        )

    def perform_update(self, serializer):
        serializer.instance = calendars.calendar_update(
            calendar=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        calendars.calendar_delete(calendar=instance, by=self.request.user)



class SLAPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                       viewsets.GenericViewSet):
    """SLA policies by severity. ``PATCH /api/v1/sla-policies/{severity}/`` with
    ``{"calendar": id | null}`` re-times the open incidents of that severity as a
    severity change would (needs ``change_slapolicy``: superusers, Incident Managers)."""

    serializer_class = SLAPolicySerializer
    queryset = SLAPolicy.objects.select_related("calendar")
    lookup_field = "severity"
    pagination_class = None
    filter_backends = []
    http_method_names = ["get", "patch", "head", "options"]

    def perform_update(self, serializer):
        serializer.instance = calendars.sla_policy_update(
            policy=serializer.instance, by=self.request.user, **serializer.validated_data
        )
