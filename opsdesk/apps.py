from django.apps import AppConfig


class OpsdeskConfig(AppConfig):
    """The shared kernel: services, teams, roles, transition log, notification outbox."""

    name = "opsdesk"
    verbose_name = "OpsDesk kernel"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="opsdesk-sync-roles")
