"""Exactly-once on the sender's side: the `sending` mark, stable message ids, interrupted attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from opsdesk import notifications
from opsdesk.choices import NotificationStatus
from opsdesk.models import Notification

from .test_notifications import DEAD_SMTP, _notify, webhook_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_sending_mark_is_committed_with_the_attempt_counted_before_the_channel_gets_the_message(monkeypatch):
    row = _notify()[0]
    seen = []
    real_send = notifications.send

    def send_and_look(notification):
        seen.append(Notification.objects.values_list("status", "attempts").get(pk=notification.pk))
        real_send(notification)

    monkeypatch.setattr(notifications, "send", send_and_look)
    assert notifications.deliver(row.pk) == "sent"
    assert seen == [(NotificationStatus.SENDING, 1)]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


def test_every_email_attempt_carries_the_same_message_id(settings):
    for key, value in DEAD_SMTP.items():
        setattr(settings, key, value)
    row = _notify()[0]
    with time_machine.travel(NOW, tick=False):
        assert notifications.deliver(row.pk) == "failed"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert notifications.retry_due() == 1
    other = _notify(recipients=[notifications.email("lead@example.test")])[0]
    notifications.deliver(other.pk)
    ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert ids == [f"<opsdesk.notification.{row.pk}@127.0.0.1>", f"<opsdesk.notification.{other.pk}@127.0.0.1>"]
    assert mail.outbox[0].message()["Message-ID"] == ids[0]  # the header on the wire, not a generated one


def test_every_webhook_attempt_carries_the_same_idempotency_key(webhook_server):  # noqa: F811
    url, hook = webhook_server
    hook.status = 500
    row = _notify(recipients=[notifications.webhook(url)])[0]
    with time_machine.travel(NOW, tick=False):
        assert notifications.deliver(row.pk) == "failed"
    hook.status = 204
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert notifications.retry_due() == 1
    assert hook.keys == [f"opsdesk.notification.{row.pk}@127.0.0.1"] * 2
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)


def _die_mid_send(monkeypatch, after_handing_over: bool):
    """The worker is killed while sending: before or after the channel took the message."""

    class Killed(BaseException):  # like SIGKILL: no except clause of the delivery runs
        pass

    real_send = notifications.send

    def send(notification):
        if after_handing_over:
            real_send(notification)
        raise Killed

    monkeypatch.setattr(notifications, "send", send)
    return Killed


def test_a_worker_killed_after_the_send_leaves_a_sending_row_with_its_attempt_counted(monkeypatch):
    row = _notify()[0]
    killed = _die_mid_send(monkeypatch, after_handing_over=True)
    with time_machine.travel(NOW, tick=False), pytest.raises(killed):
        notifications.deliver(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENDING, 1)
    monkeypatch.undo()

    # A redelivered task (acks_late) finds it in flight and sends nothing.
    with time_machine.travel(NOW + timedelta(seconds=5), tick=False):
        assert notifications.deliver(row.pk) == "in-flight"
    # The sweep leaves it alone while its lease runs ...
    with time_machine.travel(NOW + notifications.SENDING_LEASE - timedelta(seconds=1), tick=False):
        assert notifications.retry_due() == 0
    assert len(mail.outbox) == 1
    # ... then takes it back, and the retry goes out with the same Message-ID.
    with time_machine.travel(NOW + notifications.SENDING_LEASE, tick=False):
        assert notifications.retry_due() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [notifications.message_id(row)] * 2


def test_a_worker_killed_before_the_channel_took_the_message_sends_it_once_on_retry(monkeypatch):
    row = _notify()[0]
    killed = _die_mid_send(monkeypatch, after_handing_over=False)
    with time_machine.travel(NOW, tick=False), pytest.raises(killed):
        notifications.deliver(row.pk)
    monkeypatch.undo()
    with time_machine.travel(NOW + notifications.SENDING_LEASE, tick=False):
        assert notifications.recover_interrupted() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 1)
    assert row.last_error.startswith("Interrupted")
    with time_machine.travel(NOW + notifications.SENDING_LEASE, tick=False):
        assert notifications.retry_due() == 1
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 2, "")


def test_an_interrupted_row_out_of_attempts_is_left_failed(monkeypatch, settings):
    row = _notify()[0]
    Notification.objects.filter(pk=row.pk).update(attempts=settings.OPSDESK_NOTIFICATION_MAX_ATTEMPTS - 1)
    killed = _die_mid_send(monkeypatch, after_handing_over=False)
    with time_machine.travel(NOW, tick=False), pytest.raises(killed):
        notifications.deliver(row.pk)
    monkeypatch.undo()
    with time_machine.travel(NOW + notifications.SENDING_LEASE, tick=False):
        assert notifications.retry_due() == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, settings.OPSDESK_NOTIFICATION_MAX_ATTEMPTS)
    assert mail.outbox == []


def test_one_delivery_task_per_queue_for_a_whole_team(monkeypatch, django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr("opsdesk.tasks.deliver_notifications.apply_async",
                        lambda args, queue: published.append((queue, len(args[0]))))
    team = [notifications.email(f"engineer{n}@example.test") for n in range(21)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _notify(recipients=team, queue="high")
        _notify(recipients=[notifications.email("digest@example.test")], queue="default")
    assert len(callbacks) == 2  # one per notify call, none per row
    assert published == [("high", 21), ("default", 1)]
