"""Celery tasks of the kernel: thin, named, idempotent."""

from celery import shared_task

from . import notifications


@shared_task(name="opsdesk.deliver_notifications", acks_late=True)
def deliver_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Deliver a batch of outbox rows (safe to run twice: sent and in-flight rows are skipped)."""
    return notifications.deliver_many(notification_ids)


@shared_task(name="opsdesk.deliver_notification", acks_late=True)
def deliver_notification(notification_id: int) -> str:
    """Deliver one outbox row (messages published before batches existed; safe to run twice)."""
    return notifications.deliver(notification_id)


@shared_task(name="opsdesk.retry_notifications")
def retry_notifications() -> int:
    """Take back interrupted rows and re-queue pending and failed rows whose backoff has passed."""
    return notifications.retry_due()
