"""The notification outbox: rows in the caller's transaction, delivery once, retries with backoff."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from opsdesk import notifications
from opsdesk.choices import NotificationStatus
from opsdesk.models import Notification
from opsdesk.tasks import deliver_notification, retry_notifications
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEAD_SMTP = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
             "EMAIL_PORT": 1, "EMAIL_TIMEOUT": 2}


def _notify(**kwargs):
    defaults = {"recipients": [notifications.email("ops@example.test")], "subject": "P1 on Payments",
                "body": "Payments API is down."}
    return notifications.notify(**{**defaults, **kwargs})


def test_notify_writes_the_row_in_the_callers_transaction_and_delivers_after_commit(
    django_capture_on_commit_callbacks,
):
    service = ServiceFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            rows = _notify(about=service, queue="high")
            row = Notification.objects.get()
            assert row.status == NotificationStatus.PENDING
            assert (row.channel, row.recipient, row.queue) == ("email", "ops@example.test", "high")
            assert row.subject_object == service
            assert mail.outbox == []
    assert len(callbacks) == 1
    assert [r.pk for r in rows] == [row.pk]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "P1 on Payments"
    assert mail.outbox[0].to == ["ops@example.test"]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 1, "")
    assert row.sent_at is not None


def test_nothing_is_written_or_sent_when_the_callers_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _notify()
            raise RuntimeError("the event failed")
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_one_row_per_distinct_recipient_and_empty_addresses_are_skipped(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rows = _notify(recipients=[notifications.email("a@example.test"), notifications.email("a@example.test"),
                                   notifications.email(""), notifications.email("b@example.test")])
    assert sorted(r.recipient for r in rows) == ["a@example.test", "b@example.test"]
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.test", "b@example.test"]


def test_a_dedupe_key_notifies_each_recipient_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _notify(dedupe_key="incident:7:breach")
        second = _notify(dedupe_key="incident:7:breach")
        third = _notify(dedupe_key="incident:7:breach", recipients=[notifications.email("lead@example.test")])
    assert len(first) == 1
    assert second == []
    assert len(third) == 1
    assert Notification.objects.count() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["lead@example.test", "ops@example.test"]


def test_muted_writes_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), notifications.muted():
        assert _notify() == []
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_the_delivery_task_sends_exactly_once_even_when_run_twice():
    row = _notify()[0]  # on_commit callbacks are not run: the task is run by hand
    assert deliver_notification.delay(row.pk).get() == "sent"
    assert deliver_notification.delay(row.pk).get() == "already-sent"
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


def test_delivering_a_missing_row_does_nothing():
    assert notifications.deliver(987654) == "locked-or-missing"
    assert mail.outbox == []


def test_a_failed_send_is_recorded_with_backoff(settings):
    for key, value in DEAD_SMTP.items():
        setattr(settings, key, value)
    row = _notify()[0]
    with time_machine.travel(NOW, tick=False):
        assert notifications.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED
    assert row.attempts == 1
    assert row.last_error.startswith("ConnectionRefusedError")
    assert row.next_attempt_at == NOW + timedelta(minutes=1)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert notifications.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt_at == NOW + timedelta(minutes=1 + 2)


def test_backoff_doubles_up_to_an_hour():
    assert [notifications.backoff(n).total_seconds() / 60 for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_the_retry_sweep_requeues_due_rows_only_and_delivers_them(settings):
    with time_machine.travel(NOW, tick=False):
        _notify(recipients=[notifications.email("pending@example.test")])
        not_due = _notify(recipients=[notifications.email("later@example.test")])[0]
        exhausted = _notify(recipients=[notifications.email("given-up@example.test")])[0]
        sent = _notify(recipients=[notifications.email("done@example.test")])[0]
    Notification.objects.filter(pk=not_due.pk).update(next_attempt_at=NOW + timedelta(hours=1))
    Notification.objects.filter(pk=exhausted.pk).update(
        status=NotificationStatus.FAILED, attempts=settings.OPSDESK_NOTIFICATION_MAX_ATTEMPTS
    )
    Notification.objects.filter(pk=sent.pk).update(status=NotificationStatus.SENT)

    with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
        assert retry_notifications.delay().get() == 0  # a fresh row is left to its own task first
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        assert retry_notifications.delay().get() == 1
    assert [m.to for m in mail.outbox] == [["pending@example.test"]]
    statuses = dict(Notification.objects.values_list("recipient", "status"))
    assert statuses == {"pending@example.test": "sent", "later@example.test": "pending",
                        "given-up@example.test": "failed", "done@example.test": "sent"}


def test_a_failed_row_is_retried_after_its_backoff_and_then_sent(settings):
    for key, value in DEAD_SMTP.items():
        setattr(settings, key, value)
    row = _notify()[0]
    with time_machine.travel(NOW, tick=False):
        notifications.deliver(row.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(NOW + timedelta(seconds=30), tick=False):
        assert notifications.retry_due() == 0
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert notifications.retry_due() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 2, "")
    assert len(mail.outbox) == 1


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    keys: list = []
    status = 204

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        type(self).keys.append(self.headers["Idempotency-Key"])
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        return


@pytest.fixture
def webhook_server():
    _Hook.received = []
    _Hook.keys = []
    _Hook.status = 204
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Hook
    server.shutdown()
    server.server_close()


def test_a_webhook_is_posted_as_json(webhook_server, django_capture_on_commit_callbacks):
    url, hook = webhook_server
    with django_capture_on_commit_callbacks(execute=True):
        row = _notify(recipients=[notifications.webhook(f"{url}/chat")])[0]
    assert hook.received == [("/chat", "application/json", {"text": "P1 on Payments\nPayments API is down."})]
    row.refresh_from_db()
    assert (row.channel, row.status, row.attempts) == ("webhook", NotificationStatus.SENT, 1)


def test_a_webhook_answering_an_error_is_recorded_as_failed(webhook_server, django_capture_on_commit_callbacks):
    url, hook = webhook_server
    hook.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        row = _notify(recipients=[notifications.webhook(url)])[0]
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED
    assert "500" in row.last_error
    assert len(hook.received) == 1


@pytest.mark.postgres
def test_the_dedupe_key_is_compared_byte_by_byte_on_postgresql():
    """Collation "C" (``ByteOrderCharField``): equality is byte equality under the database's locale
    too, so the keys deduplicate as before; only the comparisons of the unique index are cheaper."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT collation_name FROM information_schema.columns "
                       "WHERE table_name = 'opsdesk_notification' AND column_name = 'dedupe_key'")
        assert cursor.fetchone() == ("C",)
    keys = ["incident:1:breach|email|Ann@example.test", "incident:1:breach|email|ann@example.test",
            "incident:1:breach|email|änn@example.test"]
    for key in [*keys, *keys]:
        notifications.notify(recipients=[notifications.email(key.rsplit("|", 1)[1])], subject="s", body="b",
                             dedupe_key=key.rsplit("|", 2)[0])
    assert sorted(Notification.objects.values_list("dedupe_key", flat=True)) == sorted(keys)
