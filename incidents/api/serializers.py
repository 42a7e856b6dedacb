"""Incident API serializers: thin; writes go through incidents.services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opsdesk.api.workflow import AvailableTransitionsField, TransitionInput

from ..choices import CancelReason, Severity
from ..models import Incident, IncidentNote
from ..selectors import sla_state
from ..services import CREATE_FIELDS, EDITABLE_FIELDS


@extend_schema_field(
    {"type": "string", "enum": Severity.values, "description": "critical | high | medium | low"}
)
class SeverityField(serializers.ChoiceField):
    """Severity, documented inline (its values equal Service.criticality's, a distinct concept)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Severity.choices, **kwargs)


SLA_STATUSES = ["ok", "warning", "breached", "paused", "met"]


# A plain string in the schema: an enum named "status" would collide with other apps' status enums.
@extend_schema_field({"type": "string", "description": "For colour, one of: " + " | ".join(SLA_STATUSES)})
class SLAStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=SLA_STATUSES, **kwargs)


@extend_schema_field({"type": "string", "enum": CancelReason.values, "description": "Why it is not a real incident."})
class CancelReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=CancelReason.choices, **kwargs)


class SLAClockSerializer(serializers.Serializer):
    """One SLA clock: due time, remaining (negative when breached) and elapsed seconds."""

    due = serializers.DateTimeField(allow_null=True)
    remaining_seconds = serializers.FloatField(allow_null=True)
    elapsed_seconds = serializers.FloatField()
    breached = serializers.BooleanField()
    breached_at = serializers.DateTimeField(allow_null=True)
    warned_at = serializers.DateTimeField(allow_null=True)
    running = serializers.BooleanField()
    status = SLAStatusField()


class SLAStateSerializer(serializers.Serializer):
    """The SLA state of an incident (both clocks, pause, time on hold, colour status)."""

    response = SLAClockSerializer()
    resolution = SLAClockSerializer()
    paused = serializers.BooleanField()
    time_on_hold_seconds = serializers.FloatField()
    status = SLAStatusField()


READ_ONLY = [
    "id",
    "number",
    "reporter",
    "state",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "response_due",
    "resolution_due",
    "follow_up_due",
    "response_breached",
    "resolution_breached",
    "response_breached_at",
    "resolution_breached_at",
    "escalation_level",
    "cancel_reason",
    "updated_at",
]


class IncidentSerializer(serializers.ModelSerializer):
    """An incident with its SLA state and the transitions the requesting user may take."""

    severity = SeverityField()
    available_transitions = AvailableTransitionsField()
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "description",
            "severity",
            "service",
            "team",
            "assignee",
            "reporter",
            "started_at",
            "detected_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "customers_affected",
            "confidential",
            "response_due",
            "resolution_due",
            "follow_up_due",
            "response_breached",
            "resolution_breached",
            "response_breached_at",
            "resolution_breached_at",
            "escalation_level",
            "resolution_summary",
            "root_cause",
            "lessons_learned",
            "preventive_measures",
            "cancel_reason",
            "caused_by_release",
            "caused_by_change",
            "state",
            "updated_at",
            "available_transitions",
            "sla",
        ]
        read_only_fields = READ_ONLY
        extra_kwargs = {
            "started_at": {"required": False, "help_text": "When impact began; defaults to detected_at."},
            "detected_at": {"required": False, "help_text": "Defaults to now; not in the future."},
        }

    @extend_schema_field(SLAStateSerializer)
    def get_sla(self, obj: Incident) -> dict:
        return sla_state(obj, now=self.context.get("now")).as_dict()


class IncidentCreateSerializer(serializers.ModelSerializer):
    """What a client gives to log an incident (the reporter is the requesting user)."""

    severity = SeverityField()

    class Meta:
        model = Incident
        fields = list(CREATE_FIELDS)
        extra_kwargs = {
            "started_at": {"required": False},
            "detected_at": {"required": False},
        }


class IncidentUpdateSerializer(serializers.ModelSerializer):
    """Editable fields (PATCH). A new ``severity`` needs the severity-change permission."""

    severity = SeverityField(required=False)

    class Meta:
        model = Incident
        fields = list(EDITABLE_FIELDS)


class ResolveInput(TransitionInput):
    resolution_summary = serializers.CharField(
        required=False, allow_blank=True, help_text="How the incident was resolved (required unless already set)."
    )


class CloseInput(TransitionInput):
    root_cause = serializers.CharField(required=False, allow_blank=True)
    lessons_learned = serializers.CharField(required=False, allow_blank=True)
    preventive_measures = serializers.CharField(required=False, allow_blank=True)


class CancelInput(TransitionInput):
    reason = CancelReasonField()


class EscalateInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class IncidentNoteSerializer(serializers.ModelSerializer):
    """A work note on the incident's timeline."""

    author = serializers.StringRelatedField()

    class Meta:
        model = IncidentNote
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["id", "author", "created_at"]
