from django.apps import AppConfig


class OpsdeskConfig(AppConfig):
    """The shared kernel: services, teams, roles, transition log, notification outbox."""

    name = "opsdesk"
    verbose_name = "OpsDesk kernel"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="opsdesk-sync-roles")

        from . import audit  # connects the audit log's receivers

        audit.connect_lockouts()
        audit.connect_admin()
        audit.connect_api_tokens()

        # Every model serializer's datetime needs an offset and stays in range (§7): 400, never 500.
        from django.db import models
        from rest_framework import serializers

        from .datetimes import OffsetDateTimeField

        serializers.ModelSerializer.serializer_field_mapping[models.DateTimeField] = OffsetDateTimeField
