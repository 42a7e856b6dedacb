"""Faults injected into a running installation: real Celery workers (separate processes) on
PostgreSQL and a throwaway Redis that the tests stop and kill at will.

- a worker SIGKILLed mid-delivery: every notification reaches its receiver, once per message id,
  and the interrupted attempt is counted;
- a worker SIGKILLed mid-sweep: every breach is recorded once (flag, escalation, notifications);
- the broker stopped for 15 s: the worker stays up, reconnects and delivers.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from incidents.models import Incident
from opsdesk import notifications
from opsdesk.choices import NotificationStatus
from opsdesk.models import Notification, TransitionLog
from tests.conftest import _missing
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory

from .conftest import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A redis-server of the test's own, on its own port, that the test may stop and start again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        assert wait_for(self._answers, timeout=10), "redis-server did not start"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def broker(celery_broker):
    """A throwaway broker that this process publishes to (not eagerly) for the test's length."""
    if not shutil.which("redis-server"):
        _missing("redis-server not installed (apt-get install -y redis-server)")
    redis = ThrowawayRedis(int(os.environ.get("OPSDESK_FAULT_REDIS_PORT") or _free_port()))
    redis.start()
    celery_broker(redis.url)
    yield redis
    redis.stop()


class Worker:
    """``celery worker`` in its own process group, on the test database and the throwaway broker."""

    def __init__(self, broker_url: str, mail_dir: Path, log_path: Path) -> None:
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "opsdesk.settings.local",
            "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                            f"/{db['NAME']}",
            "CELERY_BROKER_URL": broker_url,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(mail_dir),
            "DEBUG": "false",
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [sys.executable, "-m", "celery", "-A", "opsdesk", "worker", "--queues", "high,default",
             "--concurrency", "2", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--hostname", f"fault{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        assert wait_for(lambda: b" ready." in self.log_path.read_bytes() or not self.alive, timeout=60)
        assert self.alive, self.log()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def workers(broker, mail_dir, tmp_path):
    """``workers()`` starts a worker process; every one still running is stopped at the end."""
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(broker.url, mail_dir, tmp_path / f"worker{len(started)}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def sent_message_ids(mail_dir: Path) -> collections.Counter:
    """Message-IDs of the emails the workers handed to the (file) mail server, with repeats."""
    ids = collections.Counter()
    for path in mail_dir.iterdir():
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                ids[message_from_bytes(chunk.strip()).get("Message-ID")] += 1
    return ids


class _Receiver(BaseHTTPRequestHandler):
    """A chat webhook that records each request's Idempotency-Key before it answers, slowly."""

    keys: collections.Counter = collections.Counter()
    lock = threading.Lock()
    delay = 0.0

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        with type(self).lock:
            type(self).keys[self.headers["Idempotency-Key"]] += 1
        time.sleep(type(self).delay)  # the message is in; a kill now lands between send and commit
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        return


@pytest.fixture
def receiver():
    _Receiver.keys = collections.Counter()
    _Receiver.delay = 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver
    server.shutdown()
    server.server_close()


def _sweep_until_all_sent(rows, *, timeout: float = 60) -> None:
    """Run the retry sweep as beat would, each time as if its interval had passed, until every row is sent."""
    deadline = time.monotonic() + timeout
    step = 0
    while rows.exclude(status=NotificationStatus.SENT).exists() and time.monotonic() < deadline:
        step += 1
        notifications.retry_due(now=timezone.now() + notifications.SENDING_LEASE + timedelta(minutes=step))
        wait_for(lambda: not rows.exclude(status=NotificationStatus.SENT).exists(), timeout=3)
    assert not rows.exclude(status=NotificationStatus.SENT).exists(), list(rows.values_list("status", "last_error"))


def test_a_worker_killed_mid_delivery_loses_nothing_and_duplicates_no_message_id(workers, receiver):
    url, hook = receiver
    hook.delay = 0.3
    with transaction.atomic():
        notifications.notify(recipients=[notifications.webhook(f"{url}/room/{n}") for n in range(40)],
                             subject="P1: Payments API down", body="Checkout fails.")
    rows = Notification.objects.all()
    first = workers()
    assert wait_for(lambda: sum(hook.keys.values()) >= 6, timeout=30), first.log()
    first.kill()
    interrupted = set(rows.filter(status=NotificationStatus.SENDING).values_list("pk", flat=True))
    assert interrupted, "the kill must land while a message is being sent"
    assert rows.exclude(status=NotificationStatus.SENT).count() > len(interrupted)  # more left to do

    hook.delay = 0
    workers()
    _sweep_until_all_sent(rows)

    # Every notification reached the receiver, under its own id; the receiver, keeping the ids it
    # has seen, accepted each exactly once. A repeat happens only for an interrupted attempt.
    assert set(hook.keys) == {notifications.message_id(row).strip("<>") for row in rows}
    repeated = {key for key, count in hook.keys.items() if count > 1}
    assert all(count <= 2 for count in hook.keys.values())
    assert repeated <= {notifications.message_id(row).strip("<>") for row in rows.filter(pk__in=interrupted)}
    # The interrupted attempt is counted: those rows took two attempts, the others one.
    attempts = dict(rows.values_list("pk", "attempts"))
    assert {pk: attempts[pk] for pk in interrupted} == dict.fromkeys(interrupted, 2)
    assert {n for pk, n in attempts.items() if pk not in interrupted} == {1}


def _hold_row_lock(table: str, pk: int) -> psycopg.Connection:
    """Lock one row from another connection, so a sweep that reaches it waits there."""
    db = connection.settings_dict
    conn = psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                           password=db["PASSWORD"] or None, dbname=db["NAME"])
    conn.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [pk])  # noqa: S608 - a fixed table name
    return conn


def test_a_worker_killed_mid_sweep_records_every_breach_once(workers, mail_dir, rules_off):
    from incidents.tasks import sla_sweep

    rules_off()
    service = ServiceFactory(owner_team=TeamFactory())
    now = timezone.now()
    incidents = [IncidentFactory(service=service, severity="high") for _ in range(12)]
    for n, incident in enumerate(incidents):  # due one minute apart: the sweep takes them in this order
        Incident.objects.filter(pk=incident.pk).update(response_due=now - timedelta(hours=2) + timedelta(minutes=n))
    blocker = _hold_row_lock(Incident._meta.db_table, incidents[5].pk)
    try:
        first = workers()
        sla_sweep.apply_async(queue="default")
        # The sweep flags the first five, one transaction each, then waits on the sixth: kill it there.
        breached = Incident.objects.filter(response_breached=True)
        assert wait_for(lambda: breached.count() == 5, timeout=30), first.log()
        time.sleep(0.5)
        first.kill()
    finally:
        blocker.close()
    assert breached.count() == 5

    workers()
    sla_sweep.apply_async(queue="default")
    sla_sweep.apply_async(queue="default")  # and a second sweep racing it: still once
    assert wait_for(lambda: breached.count() == 12, timeout=30)
    time.sleep(1)  # let the second sweep finish
    assert list(Incident.objects.values_list("escalation_level", flat=True)) == [1] * 12
    escalations = TransitionLog.objects.filter(transition="escalate").values_list("object_id", flat=True)
    assert sorted(escalations) == sorted(i.pk for i in incidents)

    # Each breach's notifications were written once per recipient and delivered once each.
    rows = Notification.objects.all()
    assert rows.count() == rows.values("dedupe_key").distinct().count() > 12
    _sweep_until_all_sent(rows)
    assert sent_message_ids(mail_dir) == collections.Counter(
        {notifications.message_id(row): 1 for row in rows.filter(channel="email")}
    )


def test_a_broker_outage_of_15_seconds_does_not_kill_the_worker(broker, workers, mail_dir):
    worker = workers()
    broker.stop()
    with transaction.atomic():  # logged during the outage: the publish fails, the row waits
        during = notifications.notify(recipients=[notifications.email("ops@example.test")], subject="During",
                                      body="Broker down.")[0]
    assert wait_for(lambda: b"Cannot connect to redis" in worker.log_path.read_bytes(), timeout=15), worker.log()
    time.sleep(15)
    assert worker.alive, worker.log()
    broker.start()

    with transaction.atomic():
        after = notifications.notify(recipients=[notifications.email("oncall@example.test")], subject="After",
                                     body="Broker back.")[0]
    rows = Notification.objects.filter(pk=after.pk)
    # The worker reconnects by itself (its retry interval grows to a few seconds) and delivers.
    assert wait_for(lambda: rows.get().status == NotificationStatus.SENT, timeout=60), worker.log()
    assert Notification.objects.get(pk=during.pk).status == NotificationStatus.PENDING
    _sweep_until_all_sent(Notification.objects.all())
    assert worker.alive
    assert sent_message_ids(mail_dir) == collections.Counter(
        {notifications.message_id(during): 1, notifications.message_id(after): 1}
    )
