from rest_framework import serializers

from opsdesk.models import Service, Team


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "members", "lead", "email", "webhook_url", "active"]


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "owner_team", "criticality", "stakeholder_emails", "active"]
