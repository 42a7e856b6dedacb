"""Alert intake API serializers: thin; writes go through alerts.services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.choices import Severity

from ..choices import AlertStatus, SourceKind
from ..models import Alert, AlertSource
from ..selectors import ingest_url
from ..services import SOURCE_FIELDS


# A plain string in the schema: as an enum it would be a second name for the incidents' SeverityEnum.
@extend_schema_field({"type": "string", "description": "One of: critical | high | medium | low"})
class SeverityField(serializers.ChoiceField):
    """A severity (its values equal Service.criticality's, a distinct concept)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Severity.choices, **kwargs)


class AlertSourceSerializer(serializers.ModelSerializer):
    """A monitoring source; its token is never shown again after creation (only its first characters)."""

    kind = serializers.ChoiceField(choices=SourceKind.choices)
    default_severity = SeverityField(required=False)
    ingest_url = serializers.SerializerMethodField()
    last_alert_at = serializers.DateTimeField(read_only=True, allow_null=True)
    alerts_firing = serializers.IntegerField(read_only=True, allow_null=True)
    alerts_total = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = AlertSource
        fields = [
            "id", *SOURCE_FIELDS, "token_prefix", "token_created_at", "ingest_url", "last_alert_at",
            "alerts_firing", "alerts_total", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "token_prefix", "token_created_at", "created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False, "validators": []}, "name": {"validators": []}}

    def get_ingest_url(self, obj: AlertSource) -> str:
        return ingest_url(obj)


class AlertSourceCreatedSerializer(AlertSourceSerializer):
    """The answer to creating a source (or rotating its token): the token, this once."""

    token = serializers.CharField(read_only=True, help_text="Shown once: OpsDesk stores only its hash.")

    class Meta(AlertSourceSerializer.Meta):
        fields = [*AlertSourceSerializer.Meta.fields, "token"]


class AlertSerializer(serializers.ModelSerializer):
    """One alert occurrence (of an incident the requesting user may see)."""

    status = serializers.ChoiceField(choices=AlertStatus.choices)
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    incident = serializers.SlugRelatedField(slug_field="number", read_only=True)
    title = serializers.CharField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "source", "fingerprint", "title", "status", "labels", "annotations", "starts_at", "ends_at",
            "generator_url", "first_seen", "last_seen", "incident",
        ]
        read_only_fields = fields


class IngestAnswerSerializer(serializers.Serializer):
    """What an accepted delivery came to."""

    incidents = serializers.ListField(child=serializers.CharField(), help_text="The incidents of its alerts.")
    alerts = serializers.IntegerField(help_text="Alerts taken.")
    rejected = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="Alerts that could not be read ({index, fingerprint, errors}); present only when some were.",
    )
