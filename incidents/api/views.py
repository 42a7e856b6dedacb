"""Incident API: CRUD (no delete), transitions, escalation and notes — all through services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from opsdesk.api.workflow import transition_actions

from .. import calendars, major, review, services, steps
from ..choices import Severity
from ..filtersets import IncidentFilterSet
from ..models import ActionItem, BusinessCalendar, Incident, IncidentStep, SLAPolicy
from ..selectors import (
    incident_action_items,
    incident_list,
    incident_status_updates,
    incident_steps,
    pending_required_prefetch,
)
from .serializers import (
    ActionItemCancelInput,
    ActionItemCompleteInput,
    ActionItemSerializer,
    BusinessCalendarSerializer,
    CancelInput,
    CloseInput,
    DeclareMajorInput,
    EscalateInput,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentNoteSerializer,
    IncidentSerializer,
    IncidentStepSerializer,
    IncidentUpdateSerializer,
    ResolveInput,
    SLAPolicySerializer,
    StatusUpdateSerializer,
    StepCompleteInput,
    StepSkipInput,
)

STEP_KEY = r"(?P<key>[a-z][a-z0-9_]*)"
ITEM_ID = r"(?P<item_id>\d+)"


def _require_read(request, perm: str, what: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"You may not read {what}.")

SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class IncidentOrderingFilter(OrderingFilter):
    """``?ordering=severity`` sorts by rank (critical first), not alphabetically; the rank is
    computed only for a list sorted by it."""

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

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering and any(term.lstrip("-") == "severity_rank" for term in ordering):
            queryset = queryset.annotate(
                severity_rank=Case(
                    *[When(severity=s, then=Value(rank)) for s, rank in SEVERITY_RANK.items()],
                    output_field=IntegerField(),
                )
            )
        return queryset.order_by(*ordering) if ordering else queryset


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
        # The list stays lean; one incident (detail, and the answer to every write) carries its alerts
        # and its checklist.
        return IncidentSerializer if self.action == "list" else IncidentDetailSerializer

    def get_queryset(self):
        incidents = incident_list(user=self.request.user)
        if self.action == "list":
            # A row shows its related objects' ids alone; a page's steps come with prepare_page.
            incidents = incidents.select_related(None)
        else:
            # The alert intake's reverse relation, and the steps that gate close.
            incidents = incidents.prefetch_related("alerts__source", pending_required_prefetch())
        return incidents

    def _detail(self, pk: int):
        return self.get_serializer(self.get_queryset().get(pk=pk)).data

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentDetailSerializer})
    def create(self, request, *args, **kwargs):
        body = IncidentCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        incident = services.incident_create(by=request.user, **body.validated_data)
        return Response(self._detail(incident.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=IncidentUpdateSerializer, responses={200: IncidentDetailSerializer})
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

    # --- the incident process (§2.1) -------------------------------------------------------

    @extend_schema(request=None, responses={200: IncidentStepSerializer(many=True)}, summary="The checklist")
    @action(detail=True, methods=["get"], url_path="steps", permission_classes=[IsAuthenticated],
            pagination_class=None, filter_backends=[])
    def steps(self, request, pk=None):
        instance = self.get_object()
        _require_read(request, "incidents.view_incidentstep", "incident steps")
        return Response(IncidentStepSerializer(incident_steps(instance), many=True).data)

    def _step_action(self, request, key, run, input_serializer):
        instance = self.get_object()
        body = input_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            step = run(instance, body.validated_data)
        except IncidentStep.DoesNotExist as exc:
            raise NotFound(f"{instance.number} has no step {key!r}.") from exc
        return Response(IncidentStepSerializer(step).data)

    @extend_schema(
        request=StepCompleteInput, responses={200: IncidentStepSerializer}, summary="Complete a step",
        description="Marks the step done by you (optional `note`). 403 without the permission, 404 for an "
        "unknown step, 409 when it is already done or the incident is closed or cancelled.",
    )
    @action(detail=True, methods=["post"], url_path=rf"steps/{STEP_KEY}/complete", url_name="step-complete",
            permission_classes=[IsAuthenticated])
    def complete_step(self, request, pk=None, key=None):
        return self._step_action(
            request, key,
            lambda incident, data: steps.step_complete(incident=incident, key=key, by=request.user, note=data["note"]),
            StepCompleteInput,
        )

    @extend_schema(
        request=StepSkipInput, responses={200: IncidentStepSerializer}, summary="Skip a step",
        description="Skips an optional step with a `reason` (400 without one). Required steps cannot be "
        "skipped: 409, as for a step already done or skipped.",
    )
    @action(detail=True, methods=["post"], url_path=rf"steps/{STEP_KEY}/skip", url_name="step-skip",
            permission_classes=[IsAuthenticated])
    def skip_step(self, request, pk=None, key=None):
        return self._step_action(
            request, key,
            lambda incident, data: steps.step_skip(incident=incident, key=key, by=request.user, reason=data["reason"]),
            StepSkipInput,
        )

    @extend_schema(methods=["GET"], request=None, responses={200: ActionItemSerializer(many=True)},
                   summary="Action items of the review")
    @extend_schema(methods=["POST"], request=ActionItemSerializer, responses={201: ActionItemSerializer},
                   summary="Add an action item", description="`title`, `owner` (user id), `due_date`.")
    @action(detail=True, methods=["get", "post"], url_path="action-items", url_name="action-items",
            permission_classes=[IsAuthenticated], pagination_class=None, filter_backends=[])
    def action_items(self, request, pk=None):
        instance = self.get_object()
        if request.method == "POST":
            body = ActionItemSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = body.validated_data
            item = review.action_item_create(
                incident=instance, by=request.user, title=data["title"], owner=data["owner"], due_date=data["due_date"]
            )
            return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)
        _require_read(request, "incidents.view_actionitem", "action items")
        return Response(ActionItemSerializer(incident_action_items(instance), many=True).data)

    def _item(self, instance: Incident, item_id) -> ActionItem:
        item = ActionItem.objects.filter(incident=instance, pk=item_id).first()
        if item is None:
            raise NotFound(f"{instance.number} has no action item {item_id}.")
        return item

    @extend_schema(request=ActionItemCompleteInput, responses={200: ActionItemSerializer},
                   summary="Complete an action item",
                   description="By its owner or an Incident Manager; 409 when it is not open.")
    @action(detail=True, methods=["post"], url_path=rf"action-items/{ITEM_ID}/complete",
            url_name="action-item-complete", permission_classes=[IsAuthenticated])
    def complete_action_item(self, request, pk=None, item_id=None):
        instance = self.get_object()
        body = ActionItemCompleteInput(data=request.data)
        body.is_valid(raise_exception=True)
        item = review.action_item_complete(
            item=self._item(instance, item_id), by=request.user, note=body.validated_data["note"]
        )
        return Response(ActionItemSerializer(item).data)

    @extend_schema(request=ActionItemCancelInput, responses={200: ActionItemSerializer},
                   summary="Cancel an action item", description="Needs a `reason`; 409 when it is not open.")
    @action(detail=True, methods=["post"], url_path=rf"action-items/{ITEM_ID}/cancel",
            url_name="action-item-cancel", permission_classes=[IsAuthenticated])
    def cancel_action_item(self, request, pk=None, item_id=None):
        instance = self.get_object()
        body = ActionItemCancelInput(data=request.data)
        body.is_valid(raise_exception=True)
        item = review.action_item_cancel(
            item=self._item(instance, item_id), by=request.user, reason=body.validated_data["reason"]
        )
        return Response(ActionItemSerializer(item).data)

    @extend_schema(
        request=DeclareMajorInput, responses={200: IncidentDetailSerializer}, summary="Declare a major incident",
        description="Incident Managers. 403 without the permission; 409 when already major, closed or cancelled.",
    )
    @action(detail=True, methods=["post"], url_path="declare-major", url_name="declare-major",
            permission_classes=[IsAuthenticated])
    def declare_major(self, request, pk=None):
        instance = self.get_object()
        body = DeclareMajorInput(data=request.data)
        body.is_valid(raise_exception=True)
        major.incident_declare_major(incident=instance, by=request.user, comment=body.validated_data["comment"])
        return Response(self._detail(instance.pk))

    @extend_schema(methods=["GET"], request=None, responses={200: StatusUpdateSerializer(many=True)},
                   summary="Status updates")
    @extend_schema(
        methods=["POST"], request=StatusUpdateSerializer, responses={201: StatusUpdateSerializer},
        summary="Post a status update",
        description="`body`, `audience` (`internal` or `stakeholders`: emailed to the service's "
        "`stakeholder_emails`). 409 on a closed or cancelled incident; 400 for a stakeholder update of a "
        "confidential incident.",
    )
    @action(detail=True, methods=["get", "post"], url_path="status-updates", url_name="status-updates",
            permission_classes=[IsAuthenticated], pagination_class=None, filter_backends=[])
    def status_updates(self, request, pk=None):
        instance = self.get_object()
        if request.method == "POST":
            body = StatusUpdateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            update = major.status_update_add(
                incident=instance, by=request.user, body=body.validated_data["body"],
                audience=body.validated_data["audience"],
            )
            return Response(StatusUpdateSerializer(update).data, status=status.HTTP_201_CREATED)
        _require_read(request, "incidents.view_statusupdate", "status updates")
        return Response(StatusUpdateSerializer(incident_status_updates(instance), many=True).data)


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
