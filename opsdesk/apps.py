from django.apps import AppConfig


class OpsdeskConfig(AppConfig):
    """The shared kernel: services, teams, roles, transition log, notification outbox."""

    default = True  # apps.py also holds APITokensConfig
    name = "opsdesk"
    verbose_name = "Teams, services and records"

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


class APITokensConfig(AppConfig):
    """django-rest-knox under a name the admin's readers understand (its own is "Knox")."""

    name = "knox"
    label = "knox"
    verbose_name = "API tokens"
    default_auto_field = "django.db.models.AutoField"
