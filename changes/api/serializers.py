"""API representation of change requests and their board decisions."""

from __future__ import annotations

from rest_framework import serializers

from opsdesk.api.workflow import AvailableTransitionsField, TransitionInput

from .. import services
from ..choices import ApprovalRole, ConflictKind, Risk, RiskFactor
from ..models import ChangeApproval, ChangeRequest


class ChangeApprovalSerializer(serializers.ModelSerializer):
    approver_username = serializers.CharField(source="approver.get_username", read_only=True)

    class Meta:
        model = ChangeApproval
        fields = ["id", "role", "approver", "approver_username", "decision", "comment", "decided_at"]
        read_only_fields = fields


class ConflictSerializer(serializers.Serializer):
    """One stored conflict (§3.1); ``change``/``number`` name the other change, or are null."""

    kind = serializers.ChoiceField(choices=ConflictKind.choices)
    detail = serializers.CharField()
    change = serializers.IntegerField(allow_null=True)
    number = serializers.CharField(allow_null=True)


class RiskFactorSerializer(serializers.Serializer):
    factor = serializers.ChoiceField(choices=RiskFactor.choices)
    points = serializers.IntegerField()
    detail = serializers.CharField()


class RiskAnswersField(serializers.JSONField):
    """The questionnaire: ``user_impact`` none|some|all, ``complexity`` low|medium|high,
    ``tested_in_staging``, ``rollback_tested``, ``outage_required`` (booleans). Checked by the service."""


class VisibleIncidentsField(serializers.PrimaryKeyRelatedField):
    """Incident ids, limited to the incidents the requesting user may see (confidential rule)."""

    def get_queryset(self):
        from incidents.selectors import incidents_visible_to

        request = self.context.get("request")
        return incidents_visible_to(request.user if request else None)


class ChangeRequestSerializer(serializers.ModelSerializer):
    """A change request; writes go through ``change_create``/``change_update`` (drafts only)."""

    available_transitions = AvailableTransitionsField()
    conflicts = ConflictSerializer(many=True, read_only=True)
    risk_answers = RiskAnswersField(required=False)
    risk_factors = RiskFactorSerializer(many=True, read_only=True)
    risk = serializers.ChoiceField(
        choices=Risk.choices, required=False,
        help_text="Follows risk_score; a different value needs risk_override_reason (Change Managers).",
    )
    approvals = ChangeApprovalSerializer(many=True, read_only=True)
    incidents = VisibleIncidentsField(many=True, required=False)

    class Meta:
        model = ChangeRequest
        fields = [
            "id", "number", "title", "description", "change_type", "risk", "risk_answers", "risk_score",
            "risk_factors", "risk_override_reason", "impact_assessment",
            "business_justification", "implementation_plan", "testing_plan", "rollback_plan",
            "post_implementation_review", "services", "planned_start", "planned_end", "actual_start",
            "actual_end", "requester", "implementer", "template", "incidents", "release", "submitted_at",
            "approved_at", "in_freeze", "state", "created_at", "updated_at", "available_transitions",
            "conflicts", "approvals", "sequence",
        ]
        read_only_fields = [
            "number", "actual_start", "actual_end", "requester", "submitted_at", "approved_at",
            "in_freeze", "state", "created_at", "updated_at", "risk_score", "sequence",
        ]

    def create(self, validated_data):
        return services.change_create(by=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        user = self.context["request"].user
        if "incidents" in validated_data:
            # The user cannot see (or name) confidential incidents linked to the change: keep them linked.
            from incidents.selectors import incidents_visible_to

            hidden = instance.incidents.exclude(pk__in=incidents_visible_to(user).values("pk"))
            validated_data["incidents"] = [*validated_data["incidents"], *hidden]
        return services.change_update(change=instance, by=user, **validated_data)


class OutcomeInput(TransitionInput):
    """complete / fail / roll_back: an emergency change needs its post-implementation review."""

    post_implementation_review = serializers.CharField(required=False, allow_blank=True)


class DecisionInput(serializers.Serializer):
    """A board decision: the role is needed only from a member of several board groups."""

    comment = serializers.CharField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=ApprovalRole.choices, required=False, allow_null=True)
