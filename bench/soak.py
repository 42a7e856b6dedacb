"""Soak test (not run by CI): 60 s of mixed load through gunicorn and a Celery worker on loopback.

Starts gunicorn (as the Procfile does: 2 workers × 4 threads) and one Celery worker on a
scratch database, then for ``--seconds`` (default 60) runs at once:

- 6 agents (Service Desk): log an incident, edit it, acknowledge it, over and over;
- 3 board members (Tech Leads, Product Owners, Ops Managers): approve the submitted changes;
- 2 API clients (API Readers): pull the metrics summary, a time series and incident lists.

It passes when no request answered 5xx (or failed on the network) and every accepted write
is found afterwards in the database: each logged incident with its title, its last edit and
its acknowledgement; each approval, and each change the three roles approved in ``approved``.
It also reports how long the worker took to deliver every notification the load wrote.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_soak_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/soak.py [--port 8141] [--write]

The database is dropped and made anew: its name must contain "bench". ``--write`` puts the
figures into bench/RESULTS.md under their own heading (one per database). Every request has a
timeout and the run a deadline, so it always stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alerts_bench import fresh_postgres_database, wait_until_up, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 30
AGENTS = 6
READERS = 2
CHANGES = 120
SECTION = "## Soak: 60 s of mixed load (bench/soak.py)"
BOARD_ROLES = ("Tech Leads", "Product Owners", "Ops Managers")


class Client:
    """One keep-alive connection with a token; records every answer's status and time."""

    def __init__(self, port: int, token: str, stats: Stats, kind: str) -> None:
        self.port, self.token, self.stats, self.kind = port, token, stats, kind
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | list | None]:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        began = time.monotonic()
        try:
            self.conn = self.conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.conn = None
            status, raw = 0, b""
        self.stats.record(f"{self.kind} {method}", status, time.monotonic() - began)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.timings: dict[str, list[float]] = defaultdict(list)

    def record(self, operation: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[operation][status] += 1
            self.timings[operation].append(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8141)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = parser.parse_args()

    from scratch import setup

    fresh_postgres_database(os.environ.get("DATABASE_URL", ""))
    setup("/tmp/opsdesk_soak_bench.sqlite3")
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    people = make_people()
    change_ids = make_submitted_changes(people)
    database = connection.vendor
    broker = settings.CELERY_BROKER_URL.split(":", 1)[0]
    connection.close()

    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # not the test settings
    env = {**inherited, "OPSDESK_ENV": "local", "DEBUG": "0", "PYTHONPATH": str(ROOT),
           "OPSDESK_BASE_URL": f"http://127.0.0.1:{args.port}",
           "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    processes = [
        subprocess.Popen(  # noqa: S603 - our own gunicorn, on loopback
            [str(ROOT / ".venv/bin/gunicorn"), "opsdesk.wsgi", "--bind", f"127.0.0.1:{args.port}", "--workers", "2",
             "--threads", "4", "--no-control-socket", "--log-level", "warning"],
            cwd=ROOT, env=env,
        ),
        subprocess.Popen(  # noqa: S603 - our own worker
            [str(ROOT / ".venv/bin/celery"), "-A", "opsdesk", "worker", "--queues", "high,default",
             "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env,
        ),
    ]
    try:
        wait_until_up(args.port)
        stats = Stats()
        accepted = run_load(args.port, args.seconds, people, change_ids, stats)
        results = verify(accepted)
        results["drain_seconds"], results["undelivered"] = wait_for_outbox()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    results.update(database=database, broker=broker, seconds=args.seconds, stats=stats)
    report = format_report(results)
    print(report)
    if args.write:
        write_results(report, f"{SECTION}, {database}")
    server_errors = sum(n for c in stats.statuses.values() for s, n in c.items() if s == 0 or s >= 500)
    sys.exit(0 if server_errors == 0 and not results["mismatches"] and not results["undelivered"] else 1)


def make_people() -> dict:
    """Agents with a team and a service, the board, API readers; an API token each."""
    from django.contrib.auth.models import Group
    from knox.models import AuthToken

    from opsdesk.models import Service, Team
    from tests.factories import UserFactory

    def user(name: str, group: str, **extra):
        person = UserFactory(username=name, **extra)
        person.groups.add(Group.objects.get(name=group))
        return person, AuthToken.objects.create(user=person)[1]

    lead = UserFactory(username="soak-lead")
    team = Team.objects.create(name="Soak", email="soak@example.test", lead=lead)
    agents = [user(f"soak-agent{n}", "Service Desk") for n in range(AGENTS)]
    team.members.add(lead, *(a for a, _ in agents), *(UserFactory(username=f"soak-eng{n}") for n in range(14)))
    service = Service.objects.create(name="Soak API", slug="soak-api", owner_team=team, criticality="high")
    board = [user(f"soak-{role.split()[0].lower()}", role, is_staff=True) for role in BOARD_ROLES]
    readers = [user(f"soak-reader{n}", "API Readers") for n in range(READERS)]
    manager, _ = user("soak-changemgr", "Change Managers", is_staff=True)
    return {"agents": agents, "board": board, "readers": readers, "manager": manager, "service": service,
            "team": team}


def make_submitted_changes(people: dict) -> list[int]:
    from changes import services
    from tests.factories import ChangeRequestFactory

    ids = []
    for n in range(CHANGES):
        change = ChangeRequestFactory(requester=people["manager"], services=[people["service"]],
                                      title=f"Soak change {n}")
        ids.append(services.change_transition(instance=change, name="submit", by=people["manager"]).pk)
    return ids


def run_load(port: int, seconds: float, people: dict, change_ids: list[int], stats: Stats) -> dict:
    """Run every actor until ``seconds`` have passed; return the writes the server accepted."""
    until = time.monotonic() + seconds
    accepted = {"incidents": {}, "edits": {}, "acknowledged": set(), "approvals": set()}
    lock = threading.Lock()
    service_id = people["service"].pk

    def agent(n: int, token: str) -> None:
        client = Client(port, token, stats, "agent")
        for i in itertools.count():
            if time.monotonic() > until:
                return
            title = f"Soak incident {n}-{i}"
            severity = ("critical", "high", "medium", "low")[i % 4]
            status, body = client.call("POST", "/api/v1/incidents/", {"title": title, "service": service_id,
                                                                      "severity": severity})
            if status != 201:
                continue
            pk = body["id"]
            with lock:
                accepted["incidents"][pk] = title
            description = f"Edited by agent {n}, round {i}"
            if client.call("PATCH", f"/api/v1/incidents/{pk}/", {"description": description})[0] == 200:
                with lock:
                    accepted["edits"][pk] = description
            if i % 2 == 0 and client.call("POST", f"/api/v1/incidents/{pk}/acknowledge/", {})[0] == 200:
                with lock:
                    accepted["acknowledged"].add(pk)

    def board_member(person, token: str) -> None:
        client = Client(port, token, stats, "board")
        for pk in itertools.cycle(change_ids):
            if time.monotonic() > until:
                return
            client.call("GET", f"/api/v1/changes/{pk}/")
            status, _ = client.call("POST", f"/api/v1/changes/{pk}/approve/", {"comment": "Soak: approved."})
            if status == 200:
                with lock:
                    accepted["approvals"].add((pk, person.pk))

    def reader(token: str) -> None:
        client = Client(port, token, stats, "reader")
        today = datetime.now(UTC).date()
        period = f"from={today.replace(day=1)}&to={today + timedelta(days=1)}"
        paths = [f"/api/v1/metrics/?{period}",
                 f"/api/v1/metrics/timeseries/?metric=incidents.count&interval=day&{period}",
                 "/api/v1/incidents/?severity=critical", "/api/v1/changes/?state=approved"]
        for path in itertools.cycle(paths):
            if time.monotonic() > until:
                return
            client.call("GET", path)

    threads = [threading.Thread(target=agent, args=(n, token)) for n, (_, token) in enumerate(people["agents"])]
    threads += [threading.Thread(target=board_member, args=member) for member in people["board"]]
    threads += [threading.Thread(target=reader, args=(token,)) for _, token in people["readers"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT * 4)
    accepted["board"] = [person.pk for person, _ in people["board"]]
    return accepted


def verify(accepted: dict) -> dict:
    """Every accepted write is in the database, as the server said it was."""
    from changes.models import ChangeApproval, ChangeRequest
    from incidents.models import Incident

    mismatches = []
    incidents = {i.pk: i for i in Incident.objects.filter(pk__in=accepted["incidents"])}
    for pk, title in accepted["incidents"].items():
        if pk not in incidents or incidents[pk].title != title:
            mismatches.append(f"incident {pk}: missing or retitled")
    for pk, description in accepted["edits"].items():
        if pk in incidents and incidents[pk].description != description:
            mismatches.append(f"incident {pk}: edit lost")
    for pk in accepted["acknowledged"]:
        if pk in incidents and (incidents[pk].acknowledged_at is None or incidents[pk].state != "responding"):
            mismatches.append(f"incident {pk}: acknowledgement lost")
    recorded = set(ChangeApproval.objects.filter(decision="approved").values_list("change_id", "approver_id"))
    mismatches += [f"approval {pair}: lost" for pair in accepted["approvals"] - recorded]
    by_change = Counter(pk for pk, _ in accepted["approvals"])
    fully = [pk for pk, n in by_change.items() if n == len(BOARD_ROLES)]
    wrong_state = ChangeRequest.objects.filter(pk__in=fully).exclude(state="approved").count()
    if wrong_state:
        mismatches.append(f"{wrong_state} change(s) approved by every role are not approved")
    return {"incidents": len(accepted["incidents"]), "edits": len(accepted["edits"]),
            "acknowledged": len(accepted["acknowledged"]), "approvals": len(accepted["approvals"]),
            "changes_approved": len(fully), "mismatches": mismatches}


def wait_for_outbox(timeout: float = 120) -> tuple[float, int]:
    """Seconds until the worker delivered every notification of the load, and how many it did not."""
    from django.db import connection

    from opsdesk.models import Notification

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        connection.close()
        if not Notification.objects.exclude(status="sent").exists():
            break
        time.sleep(1)
    return time.monotonic() - began, Notification.objects.exclude(status="sent").count()


def format_report(results: dict) -> str:
    from opsdesk.models import Notification

    stats: Stats = results["stats"]
    lines = [
        f"{SECTION}, {results['database']}",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, {results['database']}, broker {results['broker']}, gunicorn 2 workers × "
        f"4 threads and one Celery worker (2 processes), {results['seconds']:.0f} s: {AGENTS} agents logging, "
        f"editing and acknowledging incidents, {len(BOARD_ROLES)} board members approving {CHANGES} submitted "
        f"changes, {READERS} API clients pulling metrics and lists; on this 2-core machine (shared with other "
        "work).",
        "",
        "| actor, method | requests | 2xx | 4xx | 5xx or network | p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for operation in sorted(stats.statuses):
        counts = stats.statuses[operation]
        timings = sorted(stats.timings[operation])
        ok = sum(n for s, n in counts.items() if 200 <= s < 300)
        client = sum(n for s, n in counts.items() if 400 <= s < 500)
        bad = sum(n for s, n in counts.items() if s == 0 or s >= 500)
        lines.append(f"| {operation} | {sum(counts.values())} | {ok} | {client} | {bad} | "
                     f"{statistics.median(timings) * 1000:.0f} | {timings[int(len(timings) * 0.95) - 1] * 1000:.0f} |")
    lines += [
        "",
        f"Accepted writes, every one found afterwards: {results['incidents']} incidents logged, {results['edits']} "
        f"edits, {results['acknowledged']} acknowledgements, {results['approvals']} approvals "
        f"({results['changes_approved']} changes approved by all three roles). "
        f"Mismatches: {len(results['mismatches'])}{''.join(': ' + m for m in results['mismatches'][:5])}.",
        f"Notifications written by the load: {Notification.objects.count()}; all delivered "
        f"{results['drain_seconds']:.0f} s after the load ended; undelivered: {results['undelivered']}. "
        "(4xx answers are refusals the rules demand: a change already decided by that role is 409.)",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
