"""The notification outbox: write rows in the event's transaction, deliver after commit.

After commit the rows' ids go to a background publisher thread: no request waits
on the broker. A broker outage leaves the rows pending; the retry sweep
(``opsdesk.retry_notifications``) picks them up later. Delivery locks the row,
commits a ``sending`` mark with the attempt counted, sends with the row's stable
message id, then commits ``sent`` or ``failed``; a sent or in-flight row is
skipped, so a redelivered task never sends twice. docs/RELIABILITY.md states
the guarantee exactly.
"""

from __future__ import annotations

import json
import logging
import os
import queue as stdlib_queue
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMessage
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .choices import NotificationChannel, NotificationQueue, NotificationStatus
from .models import Notification

log = logging.getLogger(__name__)

# A freshly queued row gets this long to be delivered by its own task before the
# retry sweep considers it lost.
FIRST_RETRY_AFTER = timedelta(minutes=1)
WEBHOOK_TIMEOUT_SECONDS = 10
# How long a ``sending`` mark holds the row: longer than any send can take (SMTP and
# webhook timeouts), so only a dead worker's row outlives it.
SENDING_LEASE = timedelta(minutes=5)
# Ids per published delivery task: a team's notifications of one event in one message.
DELIVERY_BATCH = 25


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
    rows already there are skipped) and hand them to the publisher after commit, as
    ``notify`` does. Returns ``(id, object_id, recipient)`` of the rows written.

    Every message needs a ``dedupe_key`` (the sweep's events all have one). The rows are
    those ``notify`` would write for each message, in the same order: one per distinct
    recipient with an address, keyed ``<dedupe_key>|<channel>|<address>`` (at most 250
    characters); a key met twice keeps its first row. Messages share recipient lists (a
    team's, a tier's): each distinct list is deduplicated once, and on PostgreSQL travels
    once, with each message's subject and body (``_insert_pg``).
    """
    if _muted.get():
        return []
    from django.db import connection

    now = timezone.now()
    lists: dict[tuple[Recipient, ...], int] = {}
    distinct: list[list[tuple[str, str]]] = []  # per list: (channel, address) of its distinct recipients
    kept: list[tuple[Message, int | None, int]] = []  # message, content type id, index into ``distinct``
    content_types: dict[type, int] = {}
    for message in messages:
        if message.dedupe_key is None:
            raise ValueError("notify_many needs a dedupe key per message.")
        recipients = tuple(message.recipients)
        index = lists.get(recipients)
        if index is None:
            index = lists[recipients] = len(distinct)
            distinct.append([(r.channel, r.address) for r in dict.fromkeys(r for r in recipients if r.address)])
        if not distinct[index]:
            continue
        about = message.about
        if about is not None and type(about) not in content_types:
            content_types[type(about)] = ContentType.objects.get_for_model(about).pk
        kept.append((message, content_types[type(about)] if about is not None else None, index))
    if not kept:
        return []
    insert = _insert_pg if connection.vendor == "postgresql" else _insert_json
    with connection.cursor() as cursor:
        written = insert(cursor, kept, distinct, now)
    if written:
        transaction.on_commit(lambda rows=[(pk, queue) for pk, queue, _o, _r in written]: _after_commit(rows))
    return [(pk, object_id, recipient) for pk, _queue, object_id, recipient in written]


_KEY_LENGTH = 250
_RETURNING = "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, queue, object_id, recipient"


def _insert_pg(cursor, kept, distinct, now) -> list[tuple]:
    """One INSERT from one JSON array of the messages and one of the distinct recipient lists: a
    message's subject and body travel and are parsed once, not once per recipient, a list once for
    all the messages that share it, and PostgreSQL forms the keys. The rows are expanded in order
    (a nested loop over the messages and, per message, its list: no join, no sort)."""
    payload = json.dumps([
        {"subject": message.subject[:250], "body": message.body, "queue": message.queue,
         "dedupe_key": message.dedupe_key, "content_type_id": content_type,
         "object_id": message.about.pk if message.about is not None else None, "list": index}
        for message, content_type, index in kept
    ])
    names = ", ".join(name for name, _type in NOTIFICATION_COLUMNS)
    sql = (
        f"INSERT INTO {Notification._meta.db_table} ({names}) "  # noqa: S608 - table and column names only
        "SELECT r ->> 0, r ->> 1, m.subject, m.body, %s, m.queue, 0, '', %s, %s, %s, "
        "left(m.dedupe_key || '|' || (r ->> 0) || '|' || (r ->> 1), %s), m.content_type_id, m.object_id "
        "FROM json_to_recordset(%s::json) AS m(subject text, body text, queue text, dedupe_key text, "
        "content_type_id integer, object_id bigint, list integer) "
        f"CROSS JOIN LATERAL jsonb_array_elements((%s::jsonb) -> m.list) AS r {_RETURNING}"
    )
    cursor.execute(sql, [NotificationStatus.PENDING, now, now, now + FIRST_RETRY_AFTER, _KEY_LENGTH, payload,
                         json.dumps(distinct)])
    return cursor.fetchall()


def _insert_json(cursor, kept, distinct, now) -> list[tuple]:
    """SQLite: one INSERT from a JSON array of the rows."""
    from django.db import connection

    rows = [
        {
            "channel": channel, "recipient": address, "subject": message.subject[:250], "body": message.body,
            "status": NotificationStatus.PENDING, "queue": message.queue, "attempts": 0, "last_error": "",
            "created_at": now, "updated_at": now, "next_attempt_at": now + FIRST_RETRY_AFTER,
            "dedupe_key": f"{message.dedupe_key}|{channel}|{address}"[:_KEY_LENGTH],
            "content_type_id": content_type, "object_id": message.about.pk if message.about is not None else None,
        }
        for message, content_type, index in kept
        for channel, address in distinct[index]
    ]
    names = ", ".join(name for name, _type in NOTIFICATION_COLUMNS)
    source = "SELECT " + ", ".join(f"json_extract(value, '$.{name}')" for name, _ in NOTIFICATION_COLUMNS)
    source += " FROM json_each(%s) WHERE true"
    payload = json.dumps(rows, default=connection.ops.adapt_datetimefield_value)
    cursor.execute(f"INSERT INTO {Notification._meta.db_table} ({names}) {source} {_RETURNING}", [payload])  # noqa: S608
    return cursor.fetchall()


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
        key = f"{dedupe_key}|{recipient.channel}|{recipient.address}"[:_KEY_LENGTH] if dedupe_key else None
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
    if created:
        # One hand-over per call, none per row: the request does no broker I/O at all.
        transaction.on_commit(lambda rows=[(r.pk, r.queue) for r in created]: _after_commit(rows))
    return created


def message_id(notification: Notification) -> str:
    """The row's stable id, the same at every attempt: email ``Message-ID``, webhook ``Idempotency-Key``.

    A receiver that has seen this id drops the message, so a retry after a worker
    died between the send and its commit is recognisable as the same message.
    """
    host = urlparse(settings.OPSDESK_BASE_URL).hostname or "opsdesk.invalid"
    return f"<opsdesk.notification.{notification.pk}@{host}>"


def publish(rows: Iterable[tuple[int, str]]) -> int:
    """Publish delivery tasks for ``(id, queue)`` pairs: one message per queue and batch of ids.

    Stops at the first broker failure and leaves the rest pending for the retry
    sweep; returns how many rows were queued.
    """
    from .tasks import deliver_notifications

    by_queue: dict[str, list[int]] = defaultdict(list)
    for pk, queue in rows:
        by_queue[queue].append(pk)
    queued = 0
    for queue in sorted(by_queue, key=lambda q: q != NotificationQueue.HIGH):
        ids = by_queue[queue]
        for batch in (ids[i:i + DELIVERY_BATCH] for i in range(0, len(ids), DELIVERY_BATCH)):
            try:
                deliver_notifications.apply_async(args=[list(batch)], queue=queue)
            except Exception as exc:  # noqa: BLE001 - any broker failure: the sweep retries
                log.warning("Broker unavailable, %s notification(s) stay pending: %s",
                            sum(map(len, by_queue.values())) - queued, exc)
                return queued
            queued += len(batch)
    return queued


def enqueue_delivery(notification_id: int, queue: str) -> bool:
    """Publish one row's delivery now (admin "retry"); False when the broker is down."""
    return publish([(notification_id, queue)]) == 1


class _Publisher:
    """A background thread that publishes committed rows, so no request waits on the broker.

    Requests hand over ids and return at once; the thread drains everything handed
    over since its last round and publishes it in one go (one message per queue).
    Whatever it cannot publish (broker down, process killed) is left pending and the
    retry sweep delivers it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: stdlib_queue.Queue[list[tuple[int, str]]] = stdlib_queue.Queue()
        self._pid: int | None = None

    def submit(self, rows: list[tuple[int, str]]) -> None:
        self._ensure_thread()
        self._queue.put(rows)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: the parent's thread is not here
                self._queue = stdlib_queue.Queue()
                threading.Thread(target=self._run, name="opsdesk-outbox-publisher", daemon=True).start()
                self._pid = os.getpid()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything handed over has been published (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            batches = [self._queue.get()]
            while True:
                try:
                    batches.append(self._queue.get_nowait())
                except stdlib_queue.Empty:
                    break
            rows = [row for batch in batches for row in batch]
            try:
                publish(rows)
            except Exception:  # the thread must outlive any surprise; the sweep has the rows
                log.exception("Publishing %s notification(s) failed", len(rows))
            finally:
                for _ in batches:
                    self._queue.task_done()


_publisher = _Publisher()


def _after_commit(rows: list[tuple[int, str]]) -> None:
    from .celery import app

    if app.conf.task_always_eager:
        publish(rows)  # tests run tasks inline, in the caller's thread and database connection
    else:
        _publisher.submit(rows)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def send(notification: Notification) -> None:
    """Send through the row's channel; raises on failure."""
    stable_id = message_id(notification)
    if notification.channel == NotificationChannel.EMAIL:
        EmailMessage(
            notification.subject,
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            [notification.recipient],
            headers={"Message-ID": stable_id},
        ).send(fail_silently=False)
    elif notification.channel == NotificationChannel.WEBHOOK:
        payload = json.dumps({"text": f"{notification.subject}\n{notification.body}"}).encode()
        request = urllib.request.Request(  # noqa: S310 - URL is an admin-configured webhook
            notification.recipient,
            data=payload,
            headers={"Content-Type": "application/json", "Idempotency-Key": stable_id.strip("<>")},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310
            if response.status >= 300:
                raise OSError(f"webhook answered HTTP {response.status}")
    else:
        raise ValueError(f"unknown channel {notification.channel!r}")


def deliver(notification_id: int) -> str:
    """Deliver one row: commit the ``sending`` mark (attempt counted), send, commit the outcome.

    A row already sent is skipped; a row marked ``sending`` belongs to another
    attempt (or to a worker that died mid-send) and is skipped too: the retry
    sweep takes it back once its lease has passed (``recover_interrupted``).
    """
    claimed = _claim(notification_id)
    if isinstance(claimed, str):
        return claimed
    row = claimed
    try:
        send(row)
    except Exception as exc:  # noqa: BLE001 - any channel failure is recorded and retried
        now = timezone.now()
        Notification.objects.filter(pk=row.pk, status=NotificationStatus.SENDING, attempts=row.attempts).update(
            status=NotificationStatus.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + backoff(row.attempts), updated_at=now,
        )
        return "failed"
    now = timezone.now()
    Notification.objects.filter(pk=row.pk).exclude(status=NotificationStatus.SENT).update(
        status=NotificationStatus.SENT, sent_at=now, last_error="", updated_at=now,
    )
    return "sent"


def deliver_many(notification_ids: Iterable[int]) -> dict[str, int]:
    """Deliver rows one after the other, each with its own marks; counts per outcome."""
    outcomes: dict[str, int] = defaultdict(int)
    for pk in notification_ids:
        outcomes[deliver(pk)] += 1
    return dict(outcomes)


def _claim(notification_id: int) -> Notification | str:
    """Lock the row and commit its ``sending`` mark, or say why it is not ours to send."""
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
        if row.status == NotificationStatus.SENDING:
            return "in-flight"
        row.status = NotificationStatus.SENDING
        row.attempts += 1
        row.next_attempt_at = timezone.now() + SENDING_LEASE
        row.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    return row


def recover_interrupted(now=None) -> int:
    """Rows still ``sending`` after their lease: the attempt died mid-send. Mark them failed, due now.

    Whether the channel got the message is unknown; the retry carries the same
    message id, so the receiver can tell it is the same message.
    """
    now = now or timezone.now()
    return Notification.objects.filter(status=NotificationStatus.SENDING, next_attempt_at__lte=now).update(
        status=NotificationStatus.FAILED, next_attempt_at=now, updated_at=now,
        last_error="Interrupted: the worker stopped after the sending mark, before the outcome was recorded; "
                   "retried with the same message id.",
    )


def due_for_retry(now=None) -> models.QuerySet[Notification]:
    """Pending or failed rows whose backoff has passed and that have attempts left."""
    now = now or timezone.now()
    return Notification.objects.filter(
        status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED],
        next_attempt_at__lte=now,
        attempts__lt=settings.OPSDESK_NOTIFICATION_MAX_ATTEMPTS,
    )


def retry_due(now=None, limit: int = 500) -> int:
    """The periodic sweep: take back interrupted rows, re-queue due ones; returns how many were queued."""
    now = now or timezone.now()
    recover_interrupted(now)
    rows = list(due_for_retry(now).order_by("next_attempt_at", "pk").values_list("pk", "queue")[:limit])
    # Push the next look at these rows past their tasks' run, so the sweep does not re-queue them every minute.
    Notification.objects.filter(pk__in=[pk for pk, _ in rows]).update(next_attempt_at=now + FIRST_RETRY_AFTER)
    return publish(rows)
