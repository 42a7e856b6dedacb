"""Benchmark of the alert intake through gunicorn (not run by CI): alerts per second, and a storm.

Starts gunicorn (as the Procfile does: 2 workers × 4 threads) on a scratch database,
then posts Alertmanager v4 deliveries of 50 alerts from 8 client threads:

1. storm   — 10 000 alerts of 100 groups (two deliveries of 50 per group, shuffled, so two
             deliveries of one group often arrive at once): exactly 100 incidents must come of it;
2. repeat  — the same deliveries again (every alert already firing: ``last_seen`` only);
3. resolve — every alert resolved: the 100 incidents resolved by the system.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_alerts_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/alerts_bench.py [--port 8131] [--write]

The database is dropped and made anew: its name must contain "bench". ``--write`` puts the
figures into bench/RESULTS.md under its own heading (one per database).
Every request has a timeout and the whole run a deadline, so it always stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
GROUPS = 100
ALERTS_PER_GROUP = 100
PER_DELIVERY = 50
CLIENT_THREADS = 8
REQUEST_TIMEOUT = 60
DEADLINE_SECONDS = 900
SECTION = "## Alert intake (bench/alerts_bench.py)"


def fresh_postgres_database(url: str) -> None:
    """Drop and create the scratch PostgreSQL database (its name contains "bench": checked by setup)."""
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        return
    import psycopg

    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    if "bench" not in name:
        raise SystemExit("Refusing to drop a database whose name does not contain 'bench'.")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8131)
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    parser.add_argument("--all-rules", action="store_true",
                        help="keep every automation rule on (new incidents are also assigned and collected into a "
                        "recurring-incidents change, which serialises them on their service)")
    args = parser.parse_args()
    started = time.monotonic()

    from scratch import setup

    fresh_postgres_database(os.environ.get("DATABASE_URL", ""))
    setup("/tmp/opsdesk_alerts_bench.sqlite3")
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from alerts import services
    from alerts.models import Alert
    from alerts.samples import alertmanager_delivery
    from automation.models import AutomationRule
    from incidents.models import Incident
    from opsdesk.models import Service, Team, TransitionLog
    from tests.factories import UserFactory

    if not args.all_rules:  # only the rule under test: assignment and recurring-incident changes apart
        AutomationRule.objects.exclude(key="alert_to_incident").update(enabled=False)
    lead = UserFactory(username="bench-lead")
    team = Team.objects.create(name="Bench", email="bench@example.test", lead=lead)
    team.members.add(lead)
    service = Service.objects.create(name="Bench API", slug="bench-api", owner_team=team, criticality="high")
    source, token = services.alert_source_create(
        by=None, name="Bench Alertmanager", slug="bench", kind="alertmanager", default_service=service,
        rate_limit_per_minute=100_000,
    )
    database = connection.vendor
    from django.conf import settings

    broker = settings.CELERY_BROKER_URL.split(":", 1)[0]
    connection.close()

    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # not the test settings
    env = {**inherited, "OPSDESK_ENV": "local", "DEBUG": "0", "PYTHONPATH": str(ROOT),
           "OPSDESK_BASE_URL": f"http://127.0.0.1:{args.port}"}
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, on loopback
        [str(ROOT / ".venv/bin/gunicorn"), "opsdesk.wsgi", "--bind", f"127.0.0.1:{args.port}", "--workers", "2",
         "--threads", "4", "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    try:
        wait_until_up(args.port)
        now = datetime.now(UTC).replace(microsecond=0)
        deliveries = []
        for g in range(GROUPS):
            for part in range(ALERTS_PER_GROUP // PER_DELIVERY):
                instances = [f"node-{g:03d}-{part * PER_DELIVERY + i:03d}" for i in range(PER_DELIVERY)]
                deliveries.append(dict(alertname=f"BenchAlert{g:03d}", instances=instances,
                                       starts_at=now - timedelta(minutes=5), service="bench-api",
                                       severity="critical"))
        rng = random.Random(13)
        rng.shuffle(deliveries)
        results = {}
        for phase, status in (("storm", "firing"), ("repeat", "firing"), ("resolve", "resolved")):
            bodies = [json.dumps(alertmanager_delivery(**d, status=status, ends_at=now if status == "resolved"
                                                       else None)).encode() for d in deliveries]
            results[phase] = post_all(args.port, token, bodies, deadline=started + DEADLINE_SECONDS)
            if phase == "storm":
                results["incidents_after_storm"] = Incident.objects.count()
        connection.close()
        results["incidents"] = Incident.objects.count()
        results["resolved_by_system"] = TransitionLog.objects.filter(
            transition="resolve", user=None, comment="All alerts resolved."
        ).count()
        results["alerts"] = Alert.objects.count()
        results["database"] = database
        results["broker"] = broker
        results["all_rules"] = args.all_rules
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    report = format_report(results)
    print(report)
    if args.write:
        write_results(report, section(results["database"], results["all_rules"]))
    ok = results["incidents_after_storm"] == GROUPS and results["resolved_by_system"] == GROUPS
    sys.exit(0 if ok else 1)


def wait_until_up(port: int, timeout: float = 60) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer on port {port} within {timeout} s")


def post_all(port: int, token: str, bodies: list[bytes], *, deadline: float) -> dict:
    local = threading.local()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses: list[int] = []
    timings: list[float] = []
    lock = threading.Lock()

    def post(body: bytes) -> None:
        if time.monotonic() > deadline:
            raise SystemExit("deadline passed")
        conn = getattr(local, "conn", None) or http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        local.conn = conn
        began = time.monotonic()
        try:
            conn.request("POST", "/api/v1/alerts/bench/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            local.conn = None
            status = 0
        with lock:
            statuses.append(status)
            timings.append(time.monotonic() - began)

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        list(pool.map(post, bodies))
    elapsed = time.monotonic() - began
    alerts = len(bodies) * PER_DELIVERY
    timings.sort()
    return {
        "deliveries": len(bodies), "alerts": alerts, "seconds": elapsed, "alerts_per_second": alerts / elapsed,
        "accepted": statuses.count(202), "refused": len(statuses) - statuses.count(202),
        "p50_ms": statistics.median(timings) * 1000, "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000,
    }


def section(database: str, all_rules: bool = False) -> str:
    return f"{SECTION}, {database}{', every rule on' if all_rules else ''}"


def format_report(results: dict) -> str:
    lines = [
        section(results["database"], results["all_rules"]),
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, {results['database']}, broker {results['broker']}, gunicorn 2 workers × "
        f"4 threads, {CLIENT_THREADS} client threads, Alertmanager v4 deliveries of {PER_DELIVERY} alerts, "
        f"{GROUPS} groups × {ALERTS_PER_GROUP} alerts, on this 2-core machine (shared with other work). "
        + ("Every automation rule is on: each new incident is also assigned and joins the service's "
           "recurring-incidents change." if results["all_rules"] else
           "Only the rule alert_to_incident is on (assignment and recurring-incident changes apart).")
        + " Every incident writes its notifications to the outbox.",
        "",
        "| phase | deliveries | alerts | seconds | alerts/s | p50 ms | p95 ms | refused |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for phase in ("storm", "repeat", "resolve"):
        r = results[phase]
        lines.append(
            f"| {phase} | {r['deliveries']} | {r['alerts']} | {r['seconds']:.1f} | {r['alerts_per_second']:.0f} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['refused']} |"
        )
    lines += [
        "",
        f"Incidents after the storm: {results['incidents_after_storm']} (expected {GROUPS}); "
        f"resolved by the system when every alert resolved: {results['resolved_by_system']}; "
        f"alert rows: {results['alerts']}.",
        "",
    ]
    return "\n".join(lines)


def write_results(report: str, heading: str) -> None:
    """Replace (or add) this benchmark's own section of bench/RESULTS.md, leaving the others as they are."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if heading in text:
        before, rest = text.split(heading, 1)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = before + report + after.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + report
    path.write_text(text)


if __name__ == "__main__":
    main()
