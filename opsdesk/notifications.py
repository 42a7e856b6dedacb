"""The notification outbox: write rows in the event's transaction, deliver after commit.

A broker outage at commit time leaves the row pending; the retry sweep
(``opsdesk.retry_notifications``) picks it up later. Delivery locks the row
and skips it once sent, so a redelivered task never sends twice.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .choices import NotificationChannel, NotificationQueue, NotificationStatus
from .models import Notification

log = logging.getLogger(__name__)

# A freshly queued row gets this long to be delivered by its own task before the
# retry sweep considers it lost.
FIRST_RETRY_AFTER = timedelta(minutes=1)
WEBHOOK_TIMEOUT_SECONDS = 10


_muted: ContextVar[bool] = ContextVar("opsdesk_notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """Write no notifications inside this block (demo data replaying history)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    """Whether notifications are muted here (callers may skip building recipient lists)."""
    return _muted.get()


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str


def email(address: str) -> Recipient:
    return Recipient(NotificationChannel.EMAIL, address)


def webhook(url: str) -> Recipient:
    return Recipient(NotificationChannel.WEBHOOK, url)


@dataclass
class Message:
    """What ``notify`` writes: one row per distinct recipient of one message."""

    recipients: list[Recipient]
    subject: str
    body: str
    queue: str = NotificationQueue.DEFAULT
    dedupe_key: str | None = None
    about: models.Model | None = None

    def as_kwargs(self) -> dict:
        return {"recipients": self.recipients, "subject": self.subject, "body": self.body, "queue": self.queue,
                "dedupe_key": self.dedupe_key, "about": self.about}


NOTIFICATION_COLUMNS = (
    ("channel", "text"), ("recipient", "text"), ("subject", "text"), ("body", "text"), ("status", "text"),
    ("queue", "text"), ("attempts", "integer"), ("last_error", "text"), ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"), ("next_attempt_at", "timestamptz"), ("dedupe_key", "text"),
    ("content_type_id", "integer"), ("object_id", "bigint"),
)


def notify_many(messages: Iterable[Message]) -> list[tuple[int, int | None, str]]:
    """Write the outbox rows of many messages in one INSERT (at most once per dedupe key:
    rows already there are skipped) and queue their delivery after commit, one task per
    queue. Returns ``(id, object_id, recipient)`` of the rows written.

    Every message needs a ``dedupe_key`` (the sweep's events all have one).
    """
    if _muted.get():
        return []
    from django.db import connection

    now = timezone.now()
    rows, seen = [], set()
    content_types: dict[type, int] = {}
    for message in messages:
        if message.dedupe_key is None:
            raise ValueError("notify_many needs a dedupe key per message.")
        about = message.about
        if about is not None and type(about) not in content_types:
            content_types[type(about)] = ContentType.objects.get_for_model(about).pk
        for recipient in dict.fromkeys(r for r in message.recipients if r.address):
            key = f"{message.dedupe_key}|{recipient.channel}|{recipient.address}"[:250]
            if key in seen:
                continue
            seen.add(key)
            rows.append({
                "channel": recipient.channel, "recipient": recipient.address, "subject": message.subject[:250],
                "body": message.body, "status": NotificationStatus.PENDING, "queue": message.queue, "attempts": 0,
                "last_error": "", "created_at": now, "updated_at": now, "next_attempt_at": now + FIRST_RETRY_AFTER,
                "dedupe_key": key, "content_type_id": content_types[type(about)] if about is not None else None,
                "object_id": about.pk if about is not None else None,
            })
    if not rows:
        return []
    names = ", ".join(name for name, _type in NOTIFICATION_COLUMNS)
    table = Notification._meta.db_table
    if connection.vendor == "postgresql":
        record = ", ".join(f"{name} {kind}" for name, kind in NOTIFICATION_COLUMNS)
        source = f"SELECT {names} FROM jsonb_to_recordset(%s::jsonb) AS x({record})"  # noqa: S608 - column names
        payload = json.dumps(rows, default=lambda value: value.isoformat())
    else:
        source = "SELECT " + ", ".join(f"json_extract(value, '$.{name}')" for name, _ in NOTIFICATION_COLUMNS)
        source += " FROM json_each(%s) WHERE true"
        payload = json.dumps(rows, default=connection.ops.adapt_datetimefield_value)
    sql = (f"INSERT INTO {table} ({names}) {source} ON CONFLICT (dedupe_key) DO NOTHING "
           "RETURNING id, queue, object_id, recipient")
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        written = cursor.fetchall()
    by_queue: dict[str, list[int]] = {}
    for pk, queue, _object_id, _recipient in written:
        by_queue.setdefault(queue, []).append(pk)
    for queue, ids in by_queue.items():
        transaction.on_commit(lambda ids=ids, queue=queue: enqueue_deliveries(ids, queue))
    return [(pk, object_id, recipient) for pk, _queue, object_id, recipient in written]


def enqueue_deliveries(notification_ids: list[int], queue: str) -> bool:
    """Publish one task delivering many rows; on a broker outage the rows stay to the retry sweep."""
    from .tasks import deliver_notifications

    try:
        deliver_notifications.apply_async(args=[notification_ids], queue=queue)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweep retries
        log.warning("Broker unavailable, %s notifications stay pending: %s", len(notification_ids), exc)
        return False
    return True


def notify(
    *,
    recipients: Iterable[Recipient],
    subject: str,
    body: str,
    queue: str = NotificationQueue.DEFAULT,
    dedupe_key: str | None = None,
    about: models.Model | None = None,
) -> list[Notification]:
    """Write one outbox row per distinct recipient and deliver them after commit.

    With ``dedupe_key``, each recipient is notified of that event at most once,
    however often this is called (the key is unique per recipient in the table).
    """
    if _muted.get():
        return []
    now = timezone.now()
    content_type = ContentType.objects.get_for_model(about) if about is not None else None
    created = []
    for recipient in dict.fromkeys(r for r in recipients if r.address):
        key = f"{dedupe_key}|{recipient.channel}|{recipient.address}"[:250] if dedupe_key else None
        row = Notification(
            channel=recipient.channel,
            recipient=recipient.address,
            subject=subject[:250],
            body=body,
            queue=queue,
            dedupe_key=key,
            content_type=content_type,
            object_id=about.pk if about is not None else None,
            created_at=now,
            next_attempt_at=now + FIRST_RETRY_AFTER,
        )
        if key is not None:
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:
                continue  # already notified of this event
        else:
            row.save()
        created.append(row)
    for row in created:
        transaction.on_commit(lambda pk=row.pk, q=row.queue: enqueue_delivery(pk, q))
    return created


def enqueue_delivery(notification_id: int, queue: str) -> bool:
    """Publish the delivery task; on a broker outage log it and leave the row to the sweep."""
    from .tasks import deliver_notification

    try:
        deliver_notification.apply_async(args=[notification_id], queue=queue)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweep retries
        log.warning("Broker unavailable, notification %s stays pending: %s", notification_id, exc)
        return False
    return True


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def send(notification: Notification) -> None:
    """Send through the row's channel; raises on failure."""
    if notification.channel == NotificationChannel.EMAIL:
        send_mail(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            [notification.recipient],
            fail_silently=False,
        )
    elif notification.channel == NotificationChannel.WEBHOOK:
        payload = json.dumps({"text": f"{notification.subject}\n{notification.body}"}).encode()
        request = urllib.request.Request(  # noqa: S310 - URL is an admin-configured webhook
            notification.recipient,
            data=payload,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            if response.status >= 300:
                raise OSError(f"webhook answered HTTP {response.status}")
    else:
        raise ValueError(f"unknown channel {notification.channel!r}")


def deliver(notification_id: int) -> str:
    """Deliver one row exactly once: lock it, skip it if already sent, send, record."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id)
            .first()
        )
        if row is None:
            return "locked-or-missing"
        if row.status == NotificationStatus.SENT:
            return "already-sent"
        now = timezone.now()
        row.attempts += 1
        try:
            send(row)
        except Exception as exc:  # noqa: BLE001 - any channel failure is recorded and retried
            row.status = NotificationStatus.FAILED
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            row.next_attempt_at = now + backoff(row.attempts)
            row.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"])
            return "failed"
        row.status = NotificationStatus.SENT
        row.sent_at = now
        row.last_error = ""
        row.save(update_fields=["status", "attempts", "last_error", "sent_at", "updated_at"])
        return "sent"


def due_for_retry(now=None) -> models.QuerySet[Notification]:
    """Pending or failed rows whose backoff has passed and that have attempts left."""
    now = now or timezone.now()
    return Notification.objects.filter(
        status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED],
        next_attempt_at__lte=now,
        attempts__lt=settings.OPSDESK_NOTIFICATION_MAX_ATTEMPTS,
    )


def retry_due(now=None, limit: int = 500) -> int:
    """Re-queue due rows (the periodic sweep); returns how many were queued."""
    now = now or timezone.now()
    queued = 0
    for pk, queue in due_for_retry(now).values_list("pk", "queue")[:limit]:
        # Push the next look at this row past its own task's run, so the sweep does not re-queue it every minute.
        Notification.objects.filter(pk=pk).update(next_attempt_at=now + FIRST_RETRY_AFTER)
        if enqueue_delivery(pk, queue):
            queued += 1
    return queued
