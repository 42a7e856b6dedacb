"""Benchmark of the change board's workbench (not run by CI).

Fills a scratch database with 6 000 changes (of which 1 500 open with a planned
window in the next 60 days) on 12 services, 8 teams, maintenance windows and
freezes, then measures:

- ``refresh_open_changes`` (the periodic re-check: every open change's conflicts),
  its time and query count;
- one ``change_update`` of a draft (score and conflicts of it and its neighbours);
- the admin change list, the change list API (page_size 200), a CAB meeting's board
  page and the iCalendar feed: median time and query count.

    .venv/bin/python bench/board_bench.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_board_bench .venv/bin/python bench/board_bench.py

The database is emptied and refilled: its name must contain "bench".
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import time as clock
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import setup  # noqa: E402

setup("/tmp/opsdesk_board_bench.sqlite3")

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from changes import conflicts, services  # noqa: E402
from changes.models import CABMeeting, ChangeFreeze, ChangeRequest, MaintenanceWindow  # noqa: E402
from opsdesk.choices import Role  # noqa: E402
from opsdesk.models import Service, Team  # noqa: E402

CHANGES = 6_000
OPEN = 1_500
RUNS = 5
ANSWERS = {"user_impact": "some", "complexity": "medium", "tested_in_staging": True, "rollback_tested": True,
           "outage_required": False}


def fill(rng: random.Random):
    now = timezone.now()
    user = get_user_model().objects.create_user("bench", password="bench", is_superuser=True, is_staff=True)  # noqa: S106
    user.groups.add(Group.objects.get(name=Role.CHANGE_MANAGERS))
    teams = [Team.objects.create(name=f"Bench team {i}") for i in range(8)]
    svc = [Service.objects.create(name=f"Bench service {i}", slug=f"bench-{i}", owner_team=teams[i % 8])
           for i in range(12)]
    for service in svc[:6]:
        MaintenanceWindow.objects.create(service=service, weekdays=[5, 6], start_time=clock(22), end_time=clock(6),
                                         time_zone="Europe/Zurich")
    for index in range(3):
        ChangeFreeze.objects.create(name=f"Freeze {index}", start=now + timedelta(days=10 + 15 * index),
                                    end=now + timedelta(days=13 + 15 * index))
    rows = []
    for n in range(CHANGES):
        if n < OPEN:
            state = rng.choice(["draft", "submitted", "approved", "approved", "in_progress"])
            start = now + timedelta(hours=rng.randint(1, 60 * 24))
        else:
            state = rng.choice(["completed", "completed", "completed", "failed", "rolled_back", "cancelled"])
            start = now - timedelta(hours=rng.randint(24, 170 * 24))
        end = start + timedelta(hours=rng.choice([1, 2, 3, 4]))
        rows.append(ChangeRequest(
            number=f"CHG-{n + 1:06d}", title=f"Bench change {n}", requester=user, implementer=rng.choice(teams),
            planned_start=start, planned_end=end, state=state, risk_answers=ANSWERS,
            submitted_at=start - timedelta(days=3) if state != "draft" else None,
            actual_end=end if state in ("completed", "failed", "rolled_back") else None,
            testing_plan="t", rollback_plan="r",
        ))
    with transaction.atomic():
        ChangeRequest.objects.bulk_create(rows, batch_size=1000)
        link = ChangeRequest.services.through
        link.objects.bulk_create(
            [link(changerequest_id=pk, service_id=rng.choice(svc).pk)
             for pk in ChangeRequest.objects.values_list("pk", flat=True)],
            batch_size=2000,
        )
    meeting = CABMeeting.objects.create(title="Bench CAB", starts_at=now + timedelta(days=70),
                                        cutoff=now + timedelta(days=69))
    return user, meeting


def timed(action) -> tuple[float, int]:
    timings, count = [], 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            action()
            timings.append(time.perf_counter() - started)
        count = len(queries)
    return statistics.median(timings) * 1000, count


def main() -> None:
    call_command("migrate", verbosity=0)
    user, meeting = fill(random.Random(14))
    print(f"{connection.vendor}, {ChangeRequest.objects.count()} changes ({OPEN} open), median of {RUNS} runs")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        changed = conflicts.refresh_open_changes()
    print(f"  first refresh_open_changes: {(time.perf_counter() - started) * 1000:8.1f} ms, "
          f"{len(queries)} queries, {changed} rows written")
    ms, count = timed(conflicts.refresh_open_changes)
    print(f"  {'refresh_open_changes (nothing to write)':44s} {ms:8.1f} ms  {count:4d} queries")
    draft = ChangeRequest.objects.filter(state="draft").order_by("pk").first()

    def edit():
        services.change_update(change=draft, by=user, risk_answers=ANSWERS,
                               planned_end=draft.planned_end + timedelta(minutes=1))
        draft.refresh_from_db()

    ms, count = timed(edit)
    print(f"  {'change_update of a draft':44s} {ms:8.1f} ms  {count:4d} queries")
    client = Client()
    client.force_login(user)
    for name, url in (
        ("admin change list", "/admin/changes/changerequest/"),
        ("change list API, page_size=200", "/api/v1/changes/?page_size=200"),
        ("CAB board page (agenda)", f"/admin/changes/cabmeeting/{meeting.pk}/board/"),
        ("calendar feed (API)", "/api/v1/changes/calendar.ics"),
    ):
        def get(url=url):
            assert client.get(url).status_code == 200, url

        ms, count = timed(get)
        print(f"  {name:44s} {ms:8.1f} ms  {count:4d} queries")


if __name__ == "__main__":
    main()
