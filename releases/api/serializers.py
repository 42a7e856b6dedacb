"""Serializers of /api/v1/releases/ and its nested deliverables, deployments and checks."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opsdesk.api.workflow import AvailableTransitionsField
from opsdesk.datetimes import OffsetDateTimeField
from opsdesk.selectors import active_services

from ..choices import CheckKind, DeliverableKind, DeploymentStatus
from ..gates import gate_status
from ..models import Deployment, Release, ReleaseCheck, ReleaseDeliverable


class ReleaseChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)


@extend_schema_field(
    serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For each gate (prepare, implement, verify, complete): what it still needs; [] when it holds.",
    )
)
class GatesField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, release):
        return gate_status(release)


class ReleaseSerializer(serializers.ModelSerializer):
    """A release. ``state`` moves only through the transition actions."""

    services = serializers.PrimaryKeyRelatedField(many=True, queryset=active_services(), allow_empty=False)
    release_manager = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), allow_null=True, required=False,
        help_text="An active Release Manager (defaults to the caller when they are one).",
    )
    changes = ReleaseChangeSerializer(many=True, read_only=True)
    available_transitions = AvailableTransitionsField()
    gates = GatesField()

    class Meta:
        model = Release
        fields = [
            "id", "number", "name", "version", "state", "services", "release_manager", "planned_date",
            "created_at", "completed_at", "updated_at", "changes", "available_transitions", "gates",
        ]
        read_only_fields = ["number", "state", "created_at", "completed_at", "updated_at"]


class DeliverableSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=DeliverableKind.choices)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReleaseDeliverable
        fields = ["id", "kind", "content", "link", "author", "created_at"]
        read_only_fields = ["author", "created_at"]
        extra_kwargs = {"content": {"required": False}, "link": {"required": False}}


class DeploymentSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=DeploymentStatus.choices, required=False,
                                     default=DeploymentStatus.RUNNING)
    deployed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    incident_number = serializers.CharField(source="incident.number", read_only=True, allow_null=True,
                                            default=None)

    class Meta:
        model = Deployment
        fields = ["id", "environment", "status", "started_at", "finished_at", "deployed_by", "incident",
                  "incident_number"]
        read_only_fields = ["deployed_by", "incident", "incident_number"]
        extra_kwargs = {"started_at": {"required": False, "help_text": "Default: now."},
                        "finished_at": {"required": False, "help_text": "Required unless status is running."}}


class DeploymentUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeploymentStatus.choices)
    finished_at = OffsetDateTimeField(required=False, allow_null=True, help_text="Default: now.")


class CheckSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=CheckKind.choices)
    checked_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReleaseCheck
        fields = ["id", "kind", "passed", "note", "checked_by", "checked_at"]
        read_only_fields = ["checked_by", "checked_at"]
        extra_kwargs = {"note": {"required": False}}
