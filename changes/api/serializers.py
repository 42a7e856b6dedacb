"""API representation of change requests and their board decisions."""

from __future__ import annotations

from rest_framework import serializers

from opsdesk.api.workflow import AvailableTransitionsField, TransitionInput

from .. import selectors, services
from ..choices import ApprovalRole
from ..models import ChangeApproval, ChangeRequest


class ChangeApprovalSerializer(serializers.ModelSerializer):
    approver_username = serializers.CharField(source="approver.get_username", read_only=True)

    class Meta:
        model = ChangeApproval
        fields = ["id", "role", "approver", "approver_username", "decision", "comment", "decided_at"]
        read_only_fields = fields


class ConflictSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChangeRequest
        fields = ["id", "number", "title", "planned_start", "planned_end"]
        read_only_fields = fields


class VisibleIncidentsField(serializers.PrimaryKeyRelatedField):
    """Incident ids, limited to the incidents the requesting user may see (confidential rule)."""

    def get_queryset(self):
        from incidents.selectors import incidents_visible_to

        request = self.context.get("request")
        return incidents_visible_to(request.user if request else None)


class ChangeRequestListSerializer(serializers.ListSerializer):
    """Computes the conflicts of a whole page at once (constant query count)."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        self._context["conflicts"] = selectors.conflicts_by_change(items)
        return super().to_representation(items)


class ChangeRequestSerializer(serializers.ModelSerializer):
    """A change request; writes go through ``change_create``/``change_update`` (drafts only)."""

    available_transitions = AvailableTransitionsField()
    conflicts = serializers.SerializerMethodField()
    approvals = ChangeApprovalSerializer(many=True, read_only=True)
    incidents = VisibleIncidentsField(many=True, required=False)

    class Meta:
        model = ChangeRequest
        list_serializer_class = ChangeRequestListSerializer
        fields = [
            "id", "number", "title", "description", "change_type", "risk", "impact_assessment",
            "business_justification", "implementation_plan", "testing_plan", "rollback_plan",
            "post_implementation_review", "services", "planned_start", "planned_end", "actual_start",
            "actual_end", "requester", "implementer", "template", "incidents", "release", "submitted_at",
            "approved_at", "in_freeze", "state", "created_at", "updated_at", "available_transitions",
            "conflicts", "approvals",
        ]
        read_only_fields = [
            "number", "actual_start", "actual_end", "requester", "submitted_at", "approved_at",
            "in_freeze", "state", "created_at", "updated_at",
        ]

    def get_conflicts(self, obj) -> list[dict]:
        known = self.context.get("conflicts")
        conflicts = known[obj.pk] if known is not None and obj.pk in known else selectors.change_conflicts(obj)
        return ConflictSerializer(conflicts, many=True).data

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
