"""Benchmark of the busiest pages (not run by CI): the incident queue, its API and the desk.

Fills a scratch database with 12 000 incidents across all states, then times
(median of several runs) and counts the queries of:
the incident queue page (first page, a filtered page, a deep page), the
incident list endpoint (page_size 50 and 200), an incident page and the home page.

    .venv/bin/python bench/pages_bench.py                  # SQLite file in /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_pages_bench .venv/bin/python bench/pages_bench.py

The database is emptied and refilled: its name must contain "bench".
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import setup  # noqa: E402

setup("/tmp/opsdesk_pages_bench.sqlite3")

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents.models import Incident, SLAPolicy  # noqa: E402
from opsdesk.choices import Role  # noqa: E402
from opsdesk.models import Service, Team  # noqa: E402

INCIDENTS = 12_000
RUNS = 5
STATES = ["detected", "responding", "on_hold", "resolved", "closed", "cancelled"]


def fill(rng: random.Random):
    now = timezone.now()
    user = get_user_model().objects.create_user("bench", password="bench", is_superuser=True)  # noqa: S106
    user.groups.add(Group.objects.get(name=Role.INCIDENT_MANAGERS))
    teams = [Team.objects.create(name=f"Bench team {i}") for i in range(8)]
    services = [
        Service.objects.create(name=f"Bench service {i}", slug=f"bench-{i}", owner_team=teams[i % 8])
        for i in range(12)
    ]
    policies = {p.severity: p for p in SLAPolicy.objects.all()}
    rows = []
    for n in range(INCIDENTS):
        detected = now - timedelta(minutes=rng.randint(5, 90 * 24 * 60))
        severity = rng.choice(list(policies))
        state = rng.choice(STATES)
        service = rng.choice(services)
        # The constructor may set a protected state on a new row; nothing changes state afterwards.
        incident = Incident(
            number=f"INC-{n + 1:06d}", title=f"Bench incident {n}", severity=severity, service=service,
            team=service.owner_team, reporter=user, detected_at=detected,
            started_at=detected - timedelta(minutes=rng.randint(0, 30)), state=state,
            response_breached=rng.random() < 0.2, resolution_breached=rng.random() < 0.2,
        )
        incident.apply_policy(policies[severity])
        rows.append(incident)
    with transaction.atomic():
        Incident.objects.bulk_create(rows, batch_size=1000)
    return user


def measure(client: Client, url: str) -> tuple[float, int]:
    timings = []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings) * 1000, len(queries)


def main() -> None:
    call_command("migrate", verbosity=0)
    user = fill(random.Random(7))
    client = Client()
    client.force_login(user)
    some_incident = Incident.objects.order_by("pk").values_list("pk", flat=True)[INCIDENTS // 2]
    cases = [
        ("incident queue, first page", "/incidents/"),
        ("incident queue, open + breached", "/incidents/?state=detected&state=responding&breached=true"),
        ("incident queue, page 200", "/incidents/?page=200"),
        ("incident list API, page_size=50", "/api/v1/incidents/?page_size=50"),
        ("incident list API, page_size=200", "/api/v1/incidents/?page_size=200"),
        ("incident page", f"/incidents/{some_incident}/"),
        ("home page", "/"),
    ]
    print(f"{connection.vendor}, {Incident.objects.count()} incidents, median of {RUNS} runs")
    for name, url in cases:
        ms, count = measure(client, url)
        print(f"  {name:36s} {ms:8.1f} ms  {count:3d} queries")


if __name__ == "__main__":
    main()
