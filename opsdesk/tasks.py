"""Celery tasks of the kernel: thin, named, idempotent."""

from celery import shared_task

from . import notifications


@shared_task(name="opsdesk.deliver_notification", acks_late=True)
def deliver_notification(notification_id: int) -> str:
    """Deliver one outbox row (safe to run twice: a sent row is skipped)."""
    return notifications.deliver(notification_id)


@shared_task(name="opsdesk.deliver_notifications", acks_late=True)
def deliver_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Deliver many outbox rows (one task per sweep batch; each row as ``deliver_notification``)."""
    outcomes: dict[str, int] = {}
    for pk in notification_ids:
        outcome = notifications.deliver(pk)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@shared_task(name="opsdesk.retry_notifications")
def retry_notifications() -> int:
    """Re-queue pending and failed rows whose backoff has passed."""
    return notifications.retry_due()
