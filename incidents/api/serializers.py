"""Incident API serializers: thin; writes go through incidents.services."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opsdesk.api.serializers import PageSerializer
from opsdesk.api.workflow import AvailableTransitionsField, TransitionInput, prepare_transitions

from ..choices import (
    ActionItemState,
    CancelReason,
    Phase,
    Severity,
    SLAPausedReason,
    SLAStatus,
    StatusAudience,
    StepState,
)
from ..models import ActionItem, BusinessCalendar, Incident, IncidentNote, IncidentStep, SLAPolicy, StatusUpdate
from ..selectors import prefetch_pending_required, sla_clocks, sla_state, sla_states
from ..services import CREATE_FIELDS, EDITABLE_FIELDS, PROCESS_FIELDS


@extend_schema_field(
    {"type": "string", "enum": Severity.values, "description": "critical | high | medium | low"}
)
class SeverityField(serializers.ChoiceField):
    """Severity, documented inline (its values equal Service.criticality's, a distinct concept)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Severity.choices, **kwargs)


class CancelReasonOutputField(serializers.ChoiceField):
    """``null`` for an incident that was not cancelled: ``""`` is not a value of the enum."""

    def __init__(self, **kwargs):
        super().__init__(choices=CancelReason.choices, allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value):
        return value or None


SLA_STATUSES = SLAStatus.values


# A plain string in the schema: an enum named "status" would collide with other apps' status enums.
@extend_schema_field({"type": "string", "description": "For colour, one of: " + " | ".join(SLA_STATUSES)})
class SLAStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=SLA_STATUSES, **kwargs)


@extend_schema_field({"type": "string", "enum": CancelReason.values, "description": "Why it is not a real incident."})
class CancelReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=CancelReason.choices, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "enum": [*SLAPausedReason.values, None],
        "description": "Why a running clock stands still: on_hold | outside_business_hours (null: it runs).",
    }
)
class PausedReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=SLAPausedReason.choices, allow_null=True, **kwargs)


class SLAClockSerializer(serializers.Serializer):
    """One SLA clock: due time, remaining (negative when breached) and elapsed seconds."""

    due = serializers.DateTimeField(allow_null=True)
    remaining_seconds = serializers.FloatField(allow_null=True)
    elapsed_seconds = serializers.FloatField()
    breached = serializers.BooleanField()
    breached_at = serializers.DateTimeField(allow_null=True)
    warned_at = serializers.DateTimeField(allow_null=True)
    warning_due = serializers.DateTimeField(allow_null=True, help_text="When the warning is (or was) due.")
    running = serializers.BooleanField()
    paused_reason = PausedReasonField()
    status = SLAStatusField()


class SLAStateSerializer(serializers.Serializer):
    """The SLA state of an incident (both clocks, pause, time on hold, colour status)."""

    response = SLAClockSerializer()
    resolution = SLAClockSerializer()
    paused = serializers.BooleanField()
    paused_reason = PausedReasonField()
    time_on_hold_seconds = serializers.FloatField(help_text="Working time on hold, a running hold included.")
    status = SLAStatusField()
    calendar = serializers.IntegerField(allow_null=True, help_text="The BusinessCalendar counted in; null: 24 × 7.")


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
    *PROCESS_FIELDS,
]


class IncidentSerializer(serializers.ModelSerializer):
    """An incident with its SLA state and the transitions the requesting user may take."""

    severity = SeverityField()
    cancel_reason = CancelReasonOutputField()
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
            "caller_name",
            "caller_email",
            *PROCESS_FIELDS,
        ]
        read_only_fields = READ_ONLY
        extra_kwargs = {
            "started_at": {"required": False, "help_text": "When impact began; defaults to detected_at."},
            "detected_at": {"required": False, "help_text": "Defaults to now; not in the future."},
        }
        list_serializer_class = PageSerializer

    def prepare_page(self, rows: list[Incident]) -> None:
        """What a page's rows show, in one pass (``PageSerializer``): the SLA state of each at one
        instant, with the clocks read once, and the transitions the user may take (the steps that
        gate close read in one query, for the resolved rows of a user who may close)."""
        request = self.context.get("request")
        prefetch_pending_required(rows, request.user if request else None)
        now = self.context.setdefault("now", timezone.now())
        self.context["sla"] = {pk: state.as_dict() for pk, state in sla_states(rows, now=now).items()}
        prepare_transitions(rows, self.context)

    @extend_schema_field(SLAStateSerializer)
    def get_sla(self, obj: Incident) -> dict:
        prepared = self.context.get("sla")  # a page's, from prepare_page
        if prepared is not None and obj.pk in prepared:
            return prepared[obj.pk]
        clocks = self.context.get("sla_clocks")
        if clocks is None:  # read once per response, shared by every row of a list
            clocks = self.context["sla_clocks"] = sla_clocks()
        return sla_state(obj, now=self.context.get("now"), clocks=clocks).as_dict()


class IncidentAlertSerializer(serializers.Serializer):
    """An alert of the incident (from the alert intake, §9), read through the reverse relation."""

    fingerprint = serializers.CharField()
    status = serializers.CharField()
    title = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    labels = serializers.DictField(child=serializers.CharField())
    annotations = serializers.DictField(child=serializers.CharField())
    generator_url = serializers.CharField()
    source = serializers.CharField(source="source.slug")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class IncidentStepSerializer(serializers.ModelSerializer):
    """One step of the incident's checklist (§2.1)."""

    phase = serializers.ChoiceField(choices=Phase.choices, read_only=True)
    state = serializers.ChoiceField(choices=StepState.choices, read_only=True)

    class Meta:
        model = IncidentStep
        fields = ["phase", "key", "title", "required", "state", "done_at", "done_by", "auto", "note"]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    """One incident as its detail carries it: with its ``alerts`` and its checklist (``steps``)."""

    alerts = IncidentAlertSerializer(many=True, read_only=True)
    steps = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "alerts", "steps"]

    @extend_schema_field(IncidentStepSerializer(many=True))
    def get_steps(self, obj: Incident) -> list[dict]:
        steps = obj.steps.order_by("position", "id")
        return IncidentStepSerializer(steps, many=True).data


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

    author = serializers.StringRelatedField(allow_null=True)  # null: a note the system wrote

    class Meta:
        model = IncidentNote
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


# --- SLA calendars and policies ------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "description": 'Working intervals per weekday: {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], …} '
        "(keys mon…sun; a missing day is not worked; an interval may end at 24:00).",
        "additionalProperties": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "string", "example": "09:00"}, "minItems": 2, "maxItems": 2},
        },
    }
)
class HoursField(serializers.JSONField):
    """Working hours per weekday, described for the schema."""


@extend_schema_field(
    {
        "type": "array",
        "description": 'Holidays: dates and [first, last] ranges, e.g. ["2026-12-25", ["2026-12-28", "2026-12-31"]].',
        "items": {"oneOf": [{"type": "string", "format": "date"},
                            {"type": "array", "items": {"type": "string", "format": "date"}}]},
    }
)
class HolidaysField(serializers.JSONField):
    """Holiday dates and ranges, described for the schema."""


@extend_schema_field({"type": "string", "description": "A severity whose SLA policy counts in this calendar."})
class PolicySeveritiesField(serializers.SlugRelatedField):
    """The severities whose SLA policy counts in a calendar, described for the schema."""


class BusinessCalendarSerializer(serializers.ModelSerializer):
    """A business-hours calendar (§2). Checked by ``incidents.services`` (400 naming the field)."""

    hours = HoursField()
    holidays = HolidaysField(required=False)
    policies = PolicySeveritiesField(slug_field="severity", many=True, read_only=True)

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "time_zone", "hours", "holidays", "policies", "updated_at"]
        read_only_fields = ["id", "policies", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}  # uniqueness is the service's rule (case-insensitive)


class SLAPolicySerializer(serializers.ModelSerializer):
    """An SLA policy; ``calendar`` (id, or null for 24 × 7) is the field a client may change."""

    severity = SeverityField(read_only=True)
    calendar = serializers.PrimaryKeyRelatedField(
        queryset=BusinessCalendar.objects.all(), allow_null=True, required=False,
        help_text="The BusinessCalendar deadlines count in; null: around the clock.",
    )

    class Meta:
        model = SLAPolicy
        fields = ["severity", "response_time", "resolution_time", "notification_level", "warning_threshold",
                  "calendar", "detection_time", "follow_up_time"]
        read_only_fields = ["severity", "response_time", "resolution_time", "notification_level",
                            "warning_threshold", "detection_time", "follow_up_time"]


class StepCompleteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", help_text="What was done (optional).")


class StepSkipInput(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, help_text="Why the step is skipped (required).")


class ActionItemSerializer(serializers.ModelSerializer):
    """An action item of the post-incident review."""

    state = serializers.ChoiceField(choices=ActionItemState.choices, read_only=True)
    change_number = serializers.CharField(source="change.number", read_only=True, default=None, allow_null=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = ["id", "incident", "title", "owner", "due_date", "state", "change", "change_number", "overdue",
                  "created_by", "created_at", "closed_at", "closed_by", "note"]
        read_only_fields = ["id", "incident", "state", "change", "change_number", "overdue", "created_by",
                            "created_at", "closed_at", "closed_by", "note"]
        extra_kwargs = {"owner": {"help_text": "User id of the owner (must be able to see the incident)."}}

    def get_overdue(self, obj: ActionItem) -> bool:
        from django.utils import timezone

        return obj.is_overdue(timezone.localdate())


class ActionItemCompleteInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ActionItemCancelInput(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, help_text="Why the item is cancelled (required).")


class DeclareMajorInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class StatusUpdateSerializer(serializers.ModelSerializer):
    """A status update: ``internal``, or emailed to the service's ``stakeholder_emails``."""

    audience = serializers.ChoiceField(choices=StatusAudience.choices, default=StatusAudience.INTERNAL)
    author = serializers.PrimaryKeyRelatedField(read_only=True)
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = StatusUpdate
        fields = ["id", "incident", "body", "audience", "author", "author_name", "created_at"]
        read_only_fields = ["id", "incident", "author", "author_name", "created_at"]

    def get_author_name(self, obj: StatusUpdate) -> str:
        return obj.author.get_full_name() or obj.author.get_username()
