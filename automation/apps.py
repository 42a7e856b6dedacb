from django.apps import AppConfig


class AutomationConfig(AppConfig):
    """Process automation (§8): rules that react to the process apps' domain events."""

    name = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import registry, rules  # noqa: F401 - importing the rules registers them
        from .services import ensure_rules

        registry.connect()
        post_migrate.connect(ensure_rules, sender=self, dispatch_uid="automation-ensure-rules")
