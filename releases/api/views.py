"""/api/v1/releases/: releases, their gate transitions and nested deliverables, deployments, checks.

Thin: reads from ``releases/selectors.py``, writes through ``releases/services.py``.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from opsdesk.api.permissions import ModelPermissions
from opsdesk.api.workflow import transition_actions

from .. import selectors, services
from ..filtersets import ReleaseFilterSet
from ..models import Deployment, Release, ReleaseCheck, ReleaseDeliverable
from .serializers import (
    CheckSerializer,
    DeliverableSerializer,
    DeploymentSerializer,
    DeploymentUpdateSerializer,
    ReleaseSerializer,
)


def model_permissions(model):
    """Model permissions (view for GET, add for POST, change for PATCH) of a nested ``model``."""

    class NestedModelPermissions(ModelPermissions):
        def has_permission(self, request, view):
            if not request.user or not request.user.is_authenticated:
                return False
            return request.user.has_perms(self.get_required_permissions(request.method, model))

    NestedModelPermissions.__name__ = f"{model.__name__}Permissions"
    return NestedModelPermissions


@transition_actions(Release)
class _ReleaseWorkflowViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    queryset = selectors.releases_list()
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilterSet
    ordering_fields = ["number", "name", "state", "planned_date", "created_at", "completed_at"]
    ordering = ["-created_at", "-id"]
    transition_service = staticmethod(services.release_transition)


class ReleaseViewSet(_ReleaseWorkflowViewSet):
    """Releases (Release Managers write; API Readers read). No delete: a release is cancelled.

    Each release carries `available_transitions` (for you) and `gates`: for each gate,
    what it still needs. A refused gate transition answers 409 with `missing`.
    """

    def perform_create(self, serializer):
        serializer.instance = services.release_create(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.release_update(
            release=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    def _fresh(self, release):
        return self.get_queryset().get(pk=release.pk)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(self.get_serializer(self._fresh(serializer.instance)).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self.get_serializer(self._fresh(serializer.instance)).data)

    # --- nested collections ---------------------------------------------------------

    @extend_schema(methods=["GET"], responses={200: DeliverableSerializer(many=True)},
                   summary="The release's deliverables")
    @extend_schema(methods=["POST"], request=DeliverableSerializer, responses={201: DeliverableSerializer},
                   summary="Add a deliverable", description="`content` or `link` is required (400 otherwise).")
    @action(detail=True, methods=["get", "post"], url_path="deliverables", url_name="deliverables",
            permission_classes=[model_permissions(ReleaseDeliverable)], filterset_class=None,
            pagination_class=None)
    def deliverables(self, request, pk=None):
        release = self.get_object()
        if request.method == "GET":
            rows = ReleaseDeliverable.objects.filter(release=release).select_related("author")
            return Response(DeliverableSerializer(rows, many=True).data)
        body = DeliverableSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deliverable = services.deliverable_add(release=release, by=request.user, **body.validated_data)
        return Response(DeliverableSerializer(deliverable).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses={200: DeploymentSerializer(many=True)},
                   summary="The release's deployments")
    @extend_schema(methods=["POST"], request=DeploymentSerializer, responses={201: DeploymentSerializer},
                   summary="Record a deployment",
                   description="During implementation or verification. `finished_at` is required unless "
                               "`status` is `running`. A failed deployment opens a high-severity incident.")
    @action(detail=True, methods=["get", "post"], url_path="deployments", url_name="deployments",
            permission_classes=[model_permissions(Deployment)], filterset_class=None, pagination_class=None)
    def deployments(self, request, pk=None):
        release = self.get_object()
        if request.method == "GET":
            rows = Deployment.objects.filter(release=release).select_related("deployed_by", "incident")
            return Response(DeploymentSerializer(rows, many=True).data)
        body = DeploymentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployment = services.deployment_create(release=release, by=request.user, **body.validated_data)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DeploymentUpdateSerializer, responses={200: DeploymentSerializer},
        parameters=[OpenApiParameter("deployment_id", int, OpenApiParameter.PATH)],
        summary="Finish a deployment",
        description="Set `status` to `succeeded` or `failed` (`finished_at` defaults to now). A finished "
                    "deployment keeps its status (400 otherwise); a failure opens exactly one incident.",
    )
    @action(detail=True, methods=["patch"], url_path=r"deployments/(?P<deployment_id>[0-9]+)",
            url_name="deployment-detail", permission_classes=[model_permissions(Deployment)],
            filterset_class=None, pagination_class=None)
    def deployment(self, request, pk=None, deployment_id=None):
        release = self.get_object()
        deployment = get_object_or_404(Deployment, pk=deployment_id, release=release)
        body = DeploymentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployment = services.deployment_update(deployment=deployment, by=request.user, **body.validated_data)
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(methods=["GET"], responses={200: CheckSerializer(many=True)}, summary="Verification checks")
    @extend_schema(methods=["POST"], request=CheckSerializer, responses={201: CheckSerializer},
                   summary="Record a check", description="Recording a kind again replaces its result.")
    @action(detail=True, methods=["get", "post"], url_path="checks", url_name="checks",
            permission_classes=[model_permissions(ReleaseCheck)], filterset_class=None, pagination_class=None)
    def checks(self, request, pk=None):
        release = self.get_object()
        if request.method == "GET":
            rows = ReleaseCheck.objects.filter(release=release).select_related("checked_by")
            return Response(CheckSerializer(rows, many=True).data)
        body = CheckSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        check = services.check_record(release=release, by=request.user, **body.validated_data)
        return Response(CheckSerializer(check).data, status=status.HTTP_201_CREATED)
