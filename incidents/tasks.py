"""Celery tasks of incidents: thin, named, idempotent adapters over services."""

from celery import shared_task

from . import services


@shared_task(name="incidents.sla_sweep")
def sla_sweep() -> dict[str, int]:
    """Every minute: flag due SLA warnings and breaches once (safe to run twice)."""
    return services.sla_sweep()


@shared_task(name="incidents.send_routine_digests")
def send_routine_digests() -> int:
    """Daily: one digest email per team of its routine incidents of the last 24 h."""
    return services.send_routine_digests()
