"""Automation API: the run log (read-only, filterable) and the rules (read; switch and tune)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.serializers import ActionItemSerializer
from incidents.models import ActionItem
from incidents.selectors import incidents_visible_to

from .. import incident_changes, services
from ..filtersets import AutomationRunFilterSet
from ..models import AutomationRule, AutomationRun
from ..selectors import rule_list, run_list
from .serializers import AutomationRuleSerializer, AutomationRunSerializer


class AutomationRunViewSet(viewsets.ReadOnlyModelViewSet):
    """What the automation rules did (append-only), newest first; filter by ``rule``, ``outcome``,
    ``event``, ``subject`` (a number) and time. Runs about confidential incidents the user may not
    see are left out (§6)."""

    serializer_class = AutomationRunSerializer
    filterset_class = AutomationRunFilterSet
    ordering_fields = ["created_at"]
    queryset = AutomationRun.objects.none()  # for the schema and permissions; get_queryset does the work

    def get_queryset(self):
        return run_list(user=self.request.user)


class AutomationRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                            viewsets.GenericViewSet):
    """The rules of §8 by ``key``; PATCH ``enabled`` and/or ``params`` (superusers and Ops Managers).
    A bad parameter is a 400 naming it; the change applies to the next event."""

    serializer_class = AutomationRuleSerializer
    lookup_field = "key"
    http_method_names = ["get", "patch", "head", "options"]
    queryset = AutomationRule.objects.none()
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return rule_list()

    @extend_schema(request=AutomationRuleSerializer, responses={200: AutomationRuleSerializer})
    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        body = self.get_serializer(rule, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        updated = services.rule_update(
            rule=rule, by=request.user, enabled=body.validated_data.get("enabled"),
            params=body.validated_data.get("params"),
        )
        return Response(self.get_serializer(updated).data)


class ActionItemRaiseChangeView(APIView):
    """``POST /api/v1/incidents/{id}/action-items/{item_id}/raise-change/``: a draft normal change for the item.

    The caller is the requester and needs ``changes.add_changerequest`` (403); an incident the
    caller may not see, or an item not of that incident, is a 404; an item that is not open or
    already has a change is a 409.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None, responses={201: ActionItemSerializer}, summary="Raise a change for an action item",
        tags=["incidents"],
    )
    def post(self, request, pk: int, item_id: int):
        item = ActionItem.objects.filter(
            pk=item_id, incident__in=incidents_visible_to(request.user).filter(pk=pk).values("pk")
        ).first()
        if item is None:
            raise NotFound("No such action item.")
        incident_changes.action_item_raise_change(item=item, by=request.user)
        item = ActionItem.objects.select_related("change").get(pk=item.pk)
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)
