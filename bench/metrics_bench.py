"""Benchmark of the metrics queries (not run by CI).

Fills a scratch database with 20 000 incidents, 3 000 changes, 500 releases and
2 000 deployments spread over the last year, then times ``compute()`` for 90
days and a weekly time series over 90 days.

    .venv/bin/python bench/metrics_bench.py                  # SQLite file in /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_metrics_bench .venv/bin/python bench/metrics_bench.py

The database is emptied and refilled: its name must contain "bench".
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import setup  # noqa: E402

setup("/tmp/opsdesk_metrics_bench.sqlite3")

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from changes.models import ChangeRequest  # noqa: E402
from incidents.models import Incident  # noqa: E402
from metrics.definitions import compute, local_today, timeseries, timeseries_many  # noqa: E402
from opsdesk.models import Service, Team  # noqa: E402
from releases.models import Deployment, Release  # noqa: E402

INCIDENTS, CHANGES, RELEASES, DEPLOYMENTS = 20_000, 3_000, 500, 2_000
DAYS = 365
RUNS = 5


def fill(rng: random.Random) -> None:
    now = timezone.now()
    user = get_user_model().objects.create_user("bench", password="bench")  # noqa: S106
    teams = [Team.objects.create(name=f"Bench team {i}") for i in range(8)]
    services = [
        Service.objects.create(name=f"Bench service {i}", slug=f"bench-{i}", owner_team=teams[i % 8])
        for i in range(20)
    ]

    def when(max_days=DAYS):
        return now - timedelta(days=rng.uniform(0, max_days))

    releases = []
    for i in range(RELEASES):
        created = when()
        completed = created + timedelta(days=rng.uniform(2, 20))
        done = completed < now
        releases.append(Release(
            name=f"Bench release {i}", number=f"REL-B{i:06d}", created_at=created,
            completed_at=completed if done else None, state="completed" if done else "implementation",
        ))
    Release.objects.bulk_create(releases, batch_size=500)
    Release.services.through.objects.bulk_create(
        [Release.services.through(release_id=r.pk, service_id=rng.choice(services).pk) for r in releases]
    )
    deployments = []
    for _ in range(DEPLOYMENTS):
        release = rng.choice(releases)
        finished = release.created_at + timedelta(days=rng.uniform(0.5, 15))
        if finished > now:
            finished = now - timedelta(hours=1)
        deployments.append(Deployment(
            release=release, environment="production", started_at=finished - timedelta(minutes=12),
            finished_at=finished, status="failed" if rng.random() < 0.12 else "succeeded",
        ))
    Deployment.objects.bulk_create(deployments, batch_size=1000)

    incidents = []
    for i in range(INCIDENTS):
        detected = when()
        service = rng.choice(services)
        fields = {}
        roll = rng.random()
        state = "detected"
        if roll < 0.85:
            acknowledged = detected + timedelta(minutes=rng.uniform(1, 120))
            resolved = acknowledged + timedelta(hours=rng.uniform(0.2, 48))
            if resolved < now:
                state = "closed" if rng.random() < 0.6 else "resolved"
                fields = {"acknowledged_at": acknowledged, "resolved_at": resolved}
        elif roll < 0.9:
            state = "cancelled"
        incidents.append(Incident(
            title=f"Bench incident {i}", number=f"INC-B{i:06d}", service=service, team=service.owner_team,
            severity=rng.choice(["critical", "high", "medium", "medium", "low", "low"]),
            detected_at=detected, started_at=detected - timedelta(minutes=rng.uniform(0, 90)), state=state,
            response_breached=rng.random() < 0.2, resolution_breached=rng.random() < 0.25,
            customers_affected=rng.randint(0, 200), confidential=rng.random() < 0.05,
            caused_by_release=rng.choice(releases) if rng.random() < 0.05 else None, **fields,
        ))
    Incident.objects.bulk_create(incidents, batch_size=1000)

    changes = []
    for i in range(CHANGES):
        submitted = when()
        approved = submitted + timedelta(hours=rng.uniform(1, 96))
        start = approved + timedelta(days=rng.uniform(0, 5))
        end = start + timedelta(hours=rng.uniform(0.5, 8))
        finished = end < now
        changes.append(ChangeRequest(
            title=f"Bench change {i}", number=f"CHG-B{i:06d}", requester=user, submitted_at=submitted,
            approved_at=approved if approved < now else None,
            state=rng.choice(["completed"] * 8 + ["failed", "rolled_back"]) if finished else "submitted",
            actual_start=start if finished else None, actual_end=end if finished else None,
            release=rng.choice(releases) if rng.random() < 0.7 else None,
        ))
    ChangeRequest.objects.bulk_create(changes, batch_size=1000)
    ChangeRequest.services.through.objects.bulk_create(
        [ChangeRequest.services.through(changerequest_id=c.pk, service_id=rng.choice(services).pk) for c in changes]
    )


def timed(label: str, fn) -> None:
    times, queries = [], 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        queries = len(ctx.captured_queries)
    print(f"{label:<52} median {statistics.median(times) * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms"
          f"   {queries} queries")


def main() -> None:
    print(f"database: {connection.vendor} ({os.environ['DATABASE_URL'].rsplit('/', 1)[-1]})")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with transaction.atomic():
        fill(random.Random(42))  # noqa: S311
    print(f"filled {INCIDENTS} incidents, {CHANGES} changes, {RELEASES} releases, {DEPLOYMENTS} deployments "
          f"in {time.perf_counter() - started:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    end = local_today() + timedelta(days=1)
    start = end - timedelta(days=90)
    service = Service.objects.order_by("pk").first().pk
    timed("compute(), 90 days", lambda: compute(start, end))
    timed("compute(), 90 days, service filter", lambda: compute(start, end, {"service": service}))
    timed("compute(), 365 days", lambda: compute(end - timedelta(days=365), end))
    timed("timeseries(incidents.mttr_seconds, week, 90 days)",
          lambda: timeseries("incidents.mttr_seconds", "week", start, end))
    timed("timeseries(dora.lead_time_p50_seconds, week, 90 days)",
          lambda: timeseries("dora.lead_time_p50_seconds", "week", start, end))
    timed("timeseries(incidents.count, day, 365 days)",
          lambda: timeseries("incidents.count", "day", end - timedelta(days=365), end))
    timed("dashboard charts (7 metrics, week, 90 days)",
          lambda: timeseries_many(["incidents.mttr_seconds", "incidents.response_sla_met_rate",
                                   "incidents.resolution_sla_met_rate", "changes.success_rate",
                                   "changes.rollback_rate", "dora.deployment_frequency_per_day",
                                   "dora.change_failure_rate"], "week", start, end))


if __name__ == "__main__":
    main()
