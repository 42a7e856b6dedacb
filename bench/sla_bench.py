"""Benchmark of the SLA arithmetic and of the sweep's warning query (not run by CI).

1. ``add_working_time`` and ``working_seconds_between`` of ``incidents/sla.py`` on a
   business-hours calendar (Europe/Berlin, 09:00-12:30 and 13:30-17:30 on weekdays,
   20 holidays a year): 30 working days added, and measured back, from a thousand
   start instants across DST changes; cold (a fresh calendar each time) and warm.
2. ``--sweep N``: fills a scratch database with N incidents (default 100 000), 2 % of
   them open, and prints the query plans of the sweep's warning queries, to show
   that they read the partial indexes on the stored warning instants.

    .venv/bin/python bench/sla_bench.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_sla_bench .venv/bin/python bench/sla_bench.py --sweep 100000

The database is emptied and refilled: its name must contain "bench".
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import setup  # noqa: E402

setup("/tmp/opsdesk_sla_bench.sqlite3")

from incidents import sla  # noqa: E402

WORKING_DAY = timedelta(hours=7, minutes=30)
SAMPLES = 1000


def office() -> sla.WorkingHours:
    holidays = []
    for year in (2026, 2027):
        holidays += [f"{year}-01-01", f"{year}-05-01", [f"{year}-12-24", f"{year}-12-26"], f"{year}-12-31"]
        holidays += [f"{year}-{m:02d}-15" for m in range(1, 13)]
    return sla.parse_calendar(
        time_zone="Europe/Berlin",
        hours={d: [["09:00", "12:30"], ["13:30", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays=holidays,
    )


def timed(function, starts) -> list[float]:
    times = []
    for start in starts:
        began = time.perf_counter()
        function(start)
        times.append((time.perf_counter() - began) * 1e6)
    return times


def report(label: str, micros: list[float]) -> None:
    micros = sorted(micros)
    print(
        f"{label:<48} median {statistics.median(micros):7.1f} µs   p99 {micros[int(len(micros) * 0.99)]:7.1f} µs"
        f"   max {micros[-1]:7.1f} µs"
    )


def arithmetic() -> None:
    rng = random.Random(11)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [base + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(SAMPLES)]
    calendar = office()
    thirty = 30 * WORKING_DAY
    ends = {start: calendar.add_working_time(start, thirty) for start in starts}
    assert all(calendar.between(start, end) == thirty for start, end in ends.items())
    print(f"{SAMPLES} start instants over 2026, 30 working days of 7 h 30 min each")
    report("add_working_time, cold (new calendar each call)",
           timed(lambda s: office_copy(calendar).add_working_time(s, thirty), starts))
    report("add_working_time, warm", timed(lambda s: calendar.add_working_time(s, thirty), starts))
    report("working_seconds_between, cold",
           timed(lambda s: office_copy(calendar).working_seconds_between(s, ends[s]), starts))
    report("working_seconds_between, warm", timed(lambda s: calendar.working_seconds_between(s, ends[s]), starts))
    year = 260 * WORKING_DAY
    report("add_working_time, one working year, cold",
           timed(lambda s: office_copy(calendar).add_working_time(s, year), starts[:200]))


def office_copy(calendar: sla.WorkingHours) -> sla.WorkingHours:
    """The same calendar without its per-day cache (as a fresh request sees it)."""
    return sla.WorkingHours(time_zone=calendar.time_zone, hours=calendar.hours, holidays=calendar.holidays)


def sweep(count: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from incidents.choices import IncidentState, SLAClockName
    from incidents.models import Incident
    from incidents.services import warnings_due
    from opsdesk.models import Service, Team

    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench")
    service = Service.objects.create(name="Bench", slug="bench", owner_team=team)
    now = datetime.now(UTC)
    rng = random.Random(3)
    rows = []
    for index in range(count):
        detected = now - timedelta(days=rng.uniform(0, 365))
        open_ = index % 50 == 0
        rows.append(Incident(
            number=f"INC-{index + 1:07d}", title="Bench", severity="medium", service=service, team=team,
            started_at=detected, detected_at=detected,
            response_due=detected + timedelta(hours=2), response_warning_due=detected + timedelta(hours=1.5),
            resolution_due=detected + timedelta(hours=8), resolution_warning_due=detected + timedelta(hours=6),
            state=IncidentState.RESPONDING if open_ else IncidentState.CLOSED,
            acknowledged_at=detected + timedelta(minutes=10),
            resolved_at=None if open_ else detected + timedelta(hours=3),
        ))
        if len(rows) == 5000:
            Incident.objects.bulk_create(rows)
            rows = []
    Incident.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for clock in SLAClockName.values:
        query = warnings_due(now, clock).order_by(sla.clock_fields(clock).warning_due).values_list("pk", flat=True)
        began = time.perf_counter()
        found = len(list(query))
        took = (time.perf_counter() - began) * 1000
        print(f"\nwarnings_due({clock}) over {count} incidents: {found} rows in {took:.1f} ms; plan:")
        print(query.explain())


if __name__ == "__main__":
    arithmetic()
    if "--sweep" in sys.argv:
        position = sys.argv.index("--sweep")
        sweep(int(sys.argv[position + 1]) if len(sys.argv) > position + 1 else 100_000)
