"""/api/v1/changes/: change requests, their transitions and the board's decisions."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, renderers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.api.renderers import JSONRenderer
from opsdesk.api.workflow import transition_actions

from .. import ical, selectors, services
from ..filtersets import ChangeRequestFilterSet
from ..models import ChangeRequest
from .serializers import ChangeApprovalSerializer, ChangeRequestSerializer, DecisionInput, OutcomeInput


@transition_actions(
    ChangeRequest, inputs={"complete": OutcomeInput, "fail": OutcomeInput, "roll_back": OutcomeInput}
)
class _ChangeRequestWorkflowViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    queryset = selectors.changes_list().prefetch_related("incidents", "approvals__approver")  # for the schema
    serializer_class = ChangeRequestSerializer
    filterset_class = ChangeRequestFilterSet
    ordering_fields = ["number", "created_at", "planned_start", "planned_end", "submitted_at", "approved_at",
                       "risk", "risk_score", "state", "change_type"]
    ordering = ["-created_at", "-id"]
    transition_service = staticmethod(services.change_transition)

    def get_queryset(self):
        """Each change with only the incidents the requesting user may see (§6: no ids, no numbers)."""
        from incidents.selectors import incidents_visible_to

        visible = Prefetch("incidents", queryset=incidents_visible_to(self.request.user))
        return selectors.changes_list().prefetch_related(visible, "approvals__approver")


class ChangeRequestViewSet(_ChangeRequestWorkflowViewSet):
    """Change requests. No delete: a change is cancelled, never removed.

    The board's `approve`/`reject` actions replace the raw transitions of the same
    name: they record a decision in the caller's role (`change_approve`/`change_reject`).
    """

    def _decide(self, request, service):
        change = self.get_object()
        body = DecisionInput(data=request.data)
        body.is_valid(raise_exception=True)
        service(change=change, by=request.user, role=body.validated_data.get("role"),
                comment=body.validated_data["comment"])
        return Response(self.get_serializer(self.get_queryset().get(pk=change.pk)).data)

    @extend_schema(
        request=DecisionInput, responses={200: ChangeRequestSerializer},
        summary="Approve in your board role",
        description="Records an approval in the caller's board role (`role` needed only with several board "
                    "groups). 403 outside the role's group, for the requester or a second role; 409 when the "
                    "change is not submitted or the role already decided.",
    )
    @action(detail=True, methods=["post"], url_path="approve", url_name="approve",
            permission_classes=[IsAuthenticated])
    def approve(self, request, pk=None):
        return self._decide(request, services.change_approve)

    @extend_schema(
        request=DecisionInput, responses={200: ChangeRequestSerializer},
        summary="Reject in your board role",
        description="One rejection rejects the change. `comment` is required (400 without).",
    )
    @action(detail=True, methods=["post"], url_path="reject", url_name="reject",
            permission_classes=[IsAuthenticated])
    def reject(self, request, pk=None):
        return self._decide(request, services.change_reject)

    @extend_schema(responses={200: ChangeApprovalSerializer(many=True)}, summary="The board's decisions",
                   description="Paginated like every list (`?page=`, `?page_size=`), in decision order.")
    @action(detail=True, methods=["get"], url_path="approvals", url_name="approvals", filter_backends=[])
    def approvals(self, request, pk=None):
        change = self.get_object()
        page = self.paginate_queryset(change.approvals.select_related("approver").order_by("decided_at", "id"))
        return self.get_paginated_response(ChangeApprovalSerializer(page, many=True).data)


class ICalendarRenderer(renderers.BaseRenderer):
    """``text/calendar``: the feed's bytes as they are; errors as JSON text."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


class ChangeCalendarFeedView(APIView):
    """GET /api/v1/changes/calendar.ics: the change calendar for API clients (session or token)."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [ICalendarRenderer, JSONRenderer]

    @extend_schema(
        summary="The change calendar as iCalendar",
        description="RFC 5545: one VEVENT per submitted, approved, in-progress or verifying change with a "
                    "planned window (UID `<number>@opsdesk`, SEQUENCE grows with every edit) and one per change "
                    "freeze. Calendar clients that cannot send headers use `/changes/calendar.ics?token=`.",
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="text/calendar"), 403: None},
    )
    def get(self, request):
        if not request.user.has_perm("changes.view_changerequest"):
            raise PermissionDenied("Your role does not include viewing changes.")
        body = ical.build_calendar(selectors.feed_changes(), selectors.feed_freezes())
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="opsdesk-changes.ics"'
        return response
