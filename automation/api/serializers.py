"""API representation of the automation rules and their runs."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..choices import RuleKey, RunOutcome
from ..models import AutomationRule, AutomationRun


class RecordSerializer(serializers.Serializer):
    """A record of OpsDesk: its type (``incident``, ``changerequest``, ``release``, ``deployment``), id, number."""

    type = serializers.CharField()
    id = serializers.IntegerField()
    number = serializers.CharField(allow_blank=True)


class AutomationRunSerializer(serializers.ModelSerializer):
    """One rule's handling of one event: what it acted on, the outcome, and what it created or changed."""

    rule = serializers.ChoiceField(source="rule.key", choices=RuleKey.choices, read_only=True)
    outcome = serializers.ChoiceField(choices=RunOutcome.choices, read_only=True)
    subject = serializers.SerializerMethodField()
    created_objects = serializers.SerializerMethodField()
    changed_objects = serializers.SerializerMethodField()

    class Meta:
        model = AutomationRun
        fields = ["id", "rule", "event", "event_key", "subject", "outcome", "detail", "created_objects",
                  "changed_objects", "created_at"]
        read_only_fields = fields

    @extend_schema_field(RecordSerializer)
    def get_subject(self, run: AutomationRun) -> dict:
        return {"type": run.subject_type.model, "id": run.subject_id, "number": run.subject_number}

    def _records(self, run: AutomationRun, action: str) -> list[dict]:
        return [
            {"type": ContentType.objects.get_for_id(record.content_type_id).model, "id": record.object_id,
             "number": record.number}
            for record in run.records.all()  # prefetched by the selector
            if record.action == action
        ]

    @extend_schema_field(RecordSerializer(many=True))
    def get_created_objects(self, run: AutomationRun) -> list[dict]:
        return self._records(run, "created")

    @extend_schema_field(RecordSerializer(many=True))
    def get_changed_objects(self, run: AutomationRun) -> list[dict]:
        return self._records(run, "changed")


class AutomationRuleSerializer(serializers.ModelSerializer):
    """A rule: what triggers it, what it does, whether it runs and with which params."""

    key = serializers.ChoiceField(choices=RuleKey.choices, read_only=True)
    title = serializers.SerializerMethodField()
    trigger = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()
    params_schema = serializers.SerializerMethodField()
    params = serializers.JSONField(required=False, help_text="Checked against params_schema; defaults fill gaps.")
    enabled = serializers.BooleanField(required=False)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = AutomationRule
        fields = ["key", "title", "trigger", "summary", "enabled", "params", "params_schema", "updated_at",
                  "updated_by"]
        read_only_fields = ["key", "updated_at", "updated_by"]

    def get_title(self, rule: AutomationRule) -> str:
        return rule.definition.title if rule.definition else ""

    def get_trigger(self, rule: AutomationRule) -> str:
        return rule.definition.trigger.name if rule.definition else ""

    def get_summary(self, rule: AutomationRule) -> str:
        return rule.definition.summary if rule.definition else ""

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "object"}})
    def get_params_schema(self, rule: AutomationRule) -> dict:
        return rule.definition.params_schema() if rule.definition else {}
