"""Celery against a real Redis: a round trip through a worker, and a broker outage that loses nothing."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import transaction
from django.utils import timezone

from opsdesk import notifications
from opsdesk.celery import app as celery_app
from opsdesk.choices import NotificationStatus
from opsdesk.models import Notification, Service, Team
from opsdesk.tasks import deliver_notification
from tests.conftest import redis_url
from tests.factories import ServiceFactory, TeamFactory, UserFactory

from .conftest import purge_queues, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DEAD_BROKER = "redis://127.0.0.1:1/0"


@celery_app.task(name="tests.opsdesk.roundtrip")
def roundtrip(service_id: int) -> str:
    """Read a service and write a team named after it: proof the worker used the database."""
    service = Service.objects.get(pk=service_id)
    Team.objects.create(name=f"Seen {service.name}")
    return service.name


@pytest.fixture
def finished_tasks():
    """(task name, return value) of every task a worker finished during the test."""
    finished = []

    def record(sender=None, retval=None, **kwargs):
        finished.append((sender.name, retval))

    task_postrun.connect(record, weak=False)
    yield finished
    task_postrun.disconnect(record)


def _worker():
    return start_worker(celery_app, pool="solo", perform_ping_check=False, queues=["high", "default"],
                        shutdown_timeout=30)


def test_a_task_makes_the_round_trip_through_a_real_worker_on_redis(celery_broker, finished_tasks):
    celery_broker(redis_url())
    purge_queues("default", "high")
    service = ServiceFactory(name="Payments API")
    roundtrip.apply_async(args=[service.pk], queue="default")
    with _worker():
        assert wait_for(lambda: finished_tasks != [])
    assert finished_tasks == [("tests.opsdesk.roundtrip", "Payments API")]
    assert Team.objects.filter(name="Seen Payments API").exists()


def test_a_broker_outage_delays_a_notification_but_loses_nothing(celery_broker, finished_tasks):
    celery_broker(DEAD_BROKER)
    started = time.monotonic()
    with transaction.atomic():
        row = notifications.notify(recipients=[notifications.email("ops@example.test")], subject="P1",
                                   body="Payments API is down.")[0]
    assert time.monotonic() - started < 10  # publishing fails fast instead of hanging the request
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    assert notifications.retry_due(now=timezone.now() + timedelta(minutes=2)) == 0  # still down
    assert Notification.objects.get().status == NotificationStatus.PENDING

    celery_broker(redis_url())
    purge_queues("default", "high")
    # The failed sweep pushed the next look a minute further: the next sweep after that delivers.
    assert notifications.retry_due(now=timezone.now() + timedelta(minutes=4)) == 1
    with _worker():
        assert wait_for(lambda: Notification.objects.get().status == NotificationStatus.SENT)
        # A redelivered task finds the row sent and sends nothing.
        deliver_notification.apply_async(args=[row.pk], queue="default")
        assert wait_for(lambda: len(finished_tasks) == 2)
    assert finished_tasks == [("opsdesk.deliver_notifications", {"sent": 1}),
                              ("opsdesk.deliver_notification", "already-sent")]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.test"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


@pytest.fixture
def blackhole_broker():
    """A port that takes connections and never answers: a hung broker, or one behind a dropped route."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    sock.close()


@pytest.mark.parametrize("outage", ["refused", "hung"])
def test_logging_a_critical_incident_for_a_team_of_21_does_not_wait_on_a_dead_broker(
    outage, celery_broker, blackhole_broker, api_client, service_desk_user,
):
    members = [UserFactory() for _ in range(20)]
    team = TeamFactory(members=members)  # 20 members and the lead: 21 people, plus the team address
    service = ServiceFactory(owner_team=team)
    client = api_client(service_desk_user)
    celery_broker(DEAD_BROKER if outage == "refused" else blackhole_broker)

    started = time.monotonic()
    response = client.post("/api/v1/incidents/", {"title": "Checkout down", "service": service.pk,
                                                  "severity": "critical"}, format="json")
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.content
    assert elapsed < 1.5  # the same as with the broker up: no request waits on the broker
    rows = Notification.objects.all()
    assert rows.count() >= 22
    assert set(rows.values_list("status", "attempts")) == {(NotificationStatus.PENDING, 0)}

    # The broker is back: the sweep delivers every row, once.
    celery_broker(redis_url())
    purge_queues("default", "high")
    assert notifications.retry_due(now=timezone.now() + timedelta(minutes=2)) == rows.count()
    with _worker():
        assert wait_for(lambda: not rows.exclude(status=NotificationStatus.SENT).exists(), timeout=60)
    emails = rows.filter(channel="email")
    assert sorted(m.extra_headers["Message-ID"] for m in mail.outbox) == sorted(map(notifications.message_id, emails))
    assert set(rows.values_list("attempts", flat=True)) == {1}


def test_workers_and_beat_wait_for_the_broker_for_ever_while_web_processes_give_up_at_once():
    from celery import Celery
    from celery.signals import beat_init, worker_init

    assert celery_app.conf.broker_connection_max_retries == 0  # a web process never waits on the broker
    for signal in (worker_init, beat_init):
        other = Celery("elsewhere")
        other.conf.broker_connection_max_retries = 0
        signal.send(sender=type("Starting", (), {"app": other})())
        assert other.conf.broker_connection_max_retries is None
        assert other.conf.broker_connection_retry and other.conf.broker_connection_retry_on_startup
