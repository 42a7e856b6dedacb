from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(ensure_sla_policies, sender=self, dispatch_uid="incidents-sla-policies")
        post_migrate.connect(ensure_process_template, sender=self, dispatch_uid="incidents-process-template")


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


def ensure_process_template(sender=None, **kwargs) -> None:
    """The process template has the handbook's sixteen steps: a missing one comes back after a
    flush; edited and added steps are never touched."""
    from .choices import HANDBOOK_STEPS
    from .models import ProcessTemplate

    for position, (phase, key, required) in enumerate(HANDBOOK_STEPS):
        ProcessTemplate.objects.get_or_create(
            key=key.value, defaults={"phase": phase.value, "title": key.label, "required": required,
                                     "position": position},
        )
