from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(ensure_sla_policies, sender=self, dispatch_uid="incidents-sla-policies")


def ensure_sla_policies(sender=None, **kwargs) -> None:
    """Every severity has a policy: the handbook's default where one is missing.

    The data migration seeds them; this puts back a missing row after a flush
    (which empties the table and emits post_migrate), never overriding an edited one.
    """
    from .models import SLAPolicy
    from .sla import HANDBOOK_POLICIES

    for severity, response, resolution, level in HANDBOOK_POLICIES:
        SLAPolicy.objects.get_or_create(
            severity=severity,
            defaults={"response_time": response, "resolution_time": resolution, "notification_level": level},
        )
