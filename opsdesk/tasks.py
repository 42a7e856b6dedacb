"""Celery tasks of the kernel: thin, named, idempotent."""

from celery import shared_task

from . import notifications


@shared_task(name="opsdesk.deliver_notification", acks_late=True)
def deliver_notification(notification_id: int) -> str:
    """Deliver one outbox row (safe to run twice: a sent row is skipped)."""
    return notifications.deliver(notification_id)


@shared_task(name="opsdesk.retry_notifications")
def retry_notifications() -> int:
    """Re-queue pending and failed rows whose backoff has passed."""
    return notifications.retry_due()
