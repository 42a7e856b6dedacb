"""Fill a PostgreSQL database with a million incidents over three years (run as ``bench/seed``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_bench bench/seed [--incidents 1000000] [--seed 17]

The database is dropped and made anew (its name must contain "bench"), migrated, then
filled with COPY: 12 teams, 60 services, 240 people, 1 000 000 incidents, 200 000
changes with their board approvals, 20 000 releases and 40 000 deployments over the
last 3 years. A progress bar per table on stderr; a few minutes on 2 cores.

Distributions (``--seed`` makes them repeatable):

* volume grows linearly (×2 over the three years), weekends at 55 %, working hours busier;
  services are Zipf-weighted (the busiest tenth has about half of the incidents);
* severity critical 2 %, high 10 %, medium 38 %, low 50 %; time to detect, acknowledge and
  resolve are log-normal with a median per severity; 3 % cancelled;
* about 9 % of the incidents are still open (most of the young ones, a tail of stale
  old ones), so the queue's "open" filter has some 90 000 rows;
* SLA flags are what the sweep would have set (breached when a deadline passed, warned
  when a warning instant passed), so an idle sweep right after seeding finds nothing;
* changes: 40 % standard, 50 % normal (three approvals), 10 % emergency (one); 40 % of
  them belong to a release; releases deploy to staging then production, 12 % failing.

Not seeded: process steps, action items, notes, notifications (the benchmark does not read them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400.0
YEARS = 3
SQLITE = False  # --sqlite: INSERTs into a SQLite file instead of COPY (the peer comparison at 20 000)
BENCH_PASSWORD = "bench-password"  # noqa: S105 - the benchmark's login on a loopback-only scratch database


# --- progress and COPY ---------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (rows done, rate, time left)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.start, self.shown = label, total, 0, time.monotonic(), 0.0

    def add(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self.shown >= 0.25 or self.done >= self.total:
            self.shown = now
            share = self.done / self.total if self.total else 1
            rate = self.done / max(now - self.start, 1e-6)
            left = (self.total - self.done) / rate if rate else 0
            bar = "#" * int(share * 30)
            sys.stderr.write(
                f"\r{self.label:<12} [{bar:<30}] {share:6.1%} {self.done:>9,}/{self.total:,} "
                f"{rate:>9,.0f} rows/s  {left:5.0f} s left "
            )
            sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write(f"\r{self.label:<12} [{'#' * 30}] 100.0 % {self.total:>9,} rows in "
                         f"{time.monotonic() - self.start:.1f} s{' ' * 30}\n")


def fmt(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds()} seconds"
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def ts(epoch: float | None) -> str:
    return r"\N" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def secs(seconds: float) -> str:
    return f"{seconds:.0f} seconds"


class Table:
    """The COPY column list of a model, with every column's default in text format."""

    def __init__(self, model, now: datetime) -> None:
        self.name = model._meta.db_table
        fields = model._meta.concrete_fields
        self.columns = [f.column for f in fields]
        self.index = {f.name: i for i, f in enumerate(fields)} | {f.column: i for i, f in enumerate(fields)}
        self.kinds = [f.get_internal_type() for f in fields]
        self.defaults = []
        for f in fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                self.defaults.append(fmt(now))
            elif f.has_default():
                default = f.get_default()
                self.defaults.append(fmt(default.value if hasattr(default, "value") else default))
            elif f.null:
                self.defaults.append(r"\N")
            else:
                self.defaults.append("")

    def row(self, values: dict[str, str]) -> str:
        row = list(self.defaults)
        for name, value in values.items():
            row[self.index[name]] = value
        return "\t".join(row)


def _sqlite_converter(kind: str):
    """COPY text → the value Django stores on SQLite (naive UTC text, microseconds, 0/1)."""
    from django.db import connection

    def nullable(convert):
        return lambda text: None if text == r"\N" else convert(text)

    if kind == "DateTimeField":
        return nullable(lambda text: connection.ops.adapt_datetimefield_value(datetime.fromisoformat(text)))
    if kind == "DurationField":
        return nullable(lambda text: round(float(text.split()[0]) * 1_000_000))
    if kind == "BooleanField":
        return nullable(lambda text: 1 if text == "t" else 0)
    return nullable(lambda text: text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\"))


def _sqlite_insert(cursor, table: str, columns: list[str], kinds: list[str], rows, progress: Progress) -> None:
    converters = [_sqlite_converter(kind) for kind in kinds]
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join(["%s"] * len(columns))})'
    batch = []
    for line in rows:
        batch.append([convert(text) for convert, text in zip(converters, line.split("\t"), strict=True)])
        if len(batch) >= 5000:
            cursor.executemany(sql, batch)
            progress.add(len(batch))
            batch = []
    if batch:
        cursor.executemany(sql, batch)
        progress.add(len(batch))
    progress.finish()


def copy(cursor, table: Table, rows, total: int, label: str) -> None:
    """COPY ``rows`` (text lines) into ``table``, 20 000 lines per write (SQLite: INSERTs)."""
    progress = Progress(label, total)
    if SQLITE:
        return _sqlite_insert(cursor, table.name, table.columns, table.kinds, rows, progress)
    columns = ", ".join(f'"{c}"' for c in table.columns)
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as stream:
        batch = []
        for line in rows:
            batch.append(line)
            if len(batch) >= 20000:
                stream.write("\n".join(batch) + "\n")
                progress.add(len(batch))
                batch = []
        if batch:
            stream.write("\n".join(batch) + "\n")
            progress.add(len(batch))
    progress.finish()


def copy_pairs(cursor, table: str, columns: tuple[str, str], pairs: list[tuple[int, int]], label: str) -> None:
    progress = Progress(label, len(pairs))
    if SQLITE:
        lines = (f"{a}\t{b}" for a, b in pairs)
        return _sqlite_insert(cursor, table, list(columns), ["IntegerField"] * 2, lines, progress)
    with cursor.copy(f'COPY "{table}" ({columns[0]}, {columns[1]}) FROM STDIN') as stream:
        for start in range(0, len(pairs), 50000):
            chunk = pairs[start:start + 50000]
            stream.write("".join(f"{a}\t{b}\n" for a, b in chunk))
            progress.add(len(chunk))
    progress.finish()


# --- distributions -------------------------------------------------------------

HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 10, 9, 8, 6, 5, 4, 3, 3, 2]


class Calendar:
    """Draws instants over the last ``YEARS`` years: growing volume, quieter weekends and nights."""

    def __init__(self, rng: random.Random, now: float) -> None:
        self.rng, self.now = rng, now
        self.days = int(YEARS * 365)
        first = now - self.days * DAY
        self.day_starts = [first + d * DAY for d in range(self.days)]
        weights = []
        for d, start in enumerate(self.day_starts):
            weekday = datetime.fromtimestamp(start, UTC).weekday()
            weights.append((1 + d / self.days) * (0.55 if weekday >= 5 else 1.0))
        total = sum(weights)
        self.cumulative = []
        running = 0.0
        for w in weights:
            running += w / total
            self.cumulative.append(running)
        hours = sum(HOUR_WEIGHTS)
        self.hour_cumulative = []
        running = 0.0
        for w in HOUR_WEIGHTS:
            running += w / hours
            self.hour_cumulative.append(running)

    def instants(self, count: int) -> list[float]:
        """``count`` sorted instants, none after now."""
        import bisect

        rng, out = self.rng, []
        for _ in range(count):
            day = min(bisect.bisect_left(self.cumulative, rng.random()), self.days - 1)
            hour = min(bisect.bisect_left(self.hour_cumulative, rng.random()), 23)
            out.append(min(self.day_starts[day] + hour * 3600 + rng.random() * 3600, self.now - 60))
        out.sort()
        return out


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1 / (i + 1) ** s for i in range(n)]


SEVERITIES = ["critical", "high", "medium", "low"]
SEVERITY_WEIGHTS = [2, 10, 38, 50]
# Medians in seconds: detect, acknowledge, resolve (working time equals wall time: 24 × 7 policies).
MEDIANS = {
    "critical": (4 * 60, 6 * 60, 1.5 * 3600),
    "high": (6 * 60, 14 * 60, 3 * 3600),
    "medium": (8 * 60, 50 * 60, 6 * 3600),
    "low": (10 * 60, 100 * 60, 16 * 3600),
}
TITLES = [
    "Checkout returns 502", "Login slow", "Payment callbacks failing", "Search results empty",
    "API latency above SLO", "Disk full on database host", "Certificate expiring", "Queue backlog growing",
    "Error rate spike", "Mail delivery delayed", "Batch job did not finish", "Dashboard not loading",
    "Memory leak in worker", "DNS resolution failing", "Replica lag", "Cache hit rate dropped",
]


# --- the seed --------------------------------------------------------------------


def fresh_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        raise SystemExit("bench/seed needs a PostgreSQL DATABASE_URL.")
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit("Refusing to drop a database whose name does not contain 'bench'.")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def people(rng: random.Random):
    """Teams, services, users (agents, approvers, a superuser ``bench``) through the ORM."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from opsdesk.choices import Role
    from opsdesk.models import Service, Team

    User = get_user_model()
    superuser = User.objects.create_superuser("bench", "bench@example.com", BENCH_PASSWORD)
    teams = [Team.objects.create(name=f"Team {name}", email=f"team-{name.lower()}@example.com") for name in (
        "Payments", "Identity", "Search", "Platform", "Data", "Mobile", "Web", "Network", "Storage",
        "Messaging", "Billing", "Support",
    )]
    services = [
        Service.objects.create(name=f"Service {i:02d}", slug=f"service-{i:02d}", owner_team=teams[i % len(teams)])
        for i in range(60)
    ]
    hasher_password = User.objects.get(pk=superuser.pk).password  # one hash for everyone: fast and loopback-only
    agents = User.objects.bulk_create(
        [User(username=f"agent{i:03d}", email=f"agent{i:03d}@example.com", password=hasher_password)
         for i in range(200)]
    )
    desk = Group.objects.get(name=Role.SERVICE_DESK)
    desk.user_set.add(*agents)
    for i, agent in enumerate(agents):
        teams[i % len(teams)].members.add(agent)
    approvers = {}
    for role, group in (("technical", Role.TECH_LEADS), ("business", Role.PRODUCT_OWNERS),
                        ("operations", Role.OPS_MANAGERS)):
        users = User.objects.bulk_create(
            [User(username=f"{role}{i}", email=f"{role}{i}@example.com", password=hasher_password) for i in range(10)]
        )
        Group.objects.get(name=group).user_set.add(*users)
        approvers[role] = [u.pk for u in users]
    members = {team.pk: [a.pk for j, a in enumerate(agents) if j % len(teams) == i] for i, team in enumerate(teams)}
    return teams, services, [a.pk for a in agents], approvers, members, superuser


def seed(count: int, rng: random.Random) -> dict[str, int]:
    from django.db import connection
    from django.utils import timezone

    from changes.models import ChangeApproval, ChangeRequest
    from incidents.models import Incident, SLAPolicy
    from releases.models import Deployment, Release

    now_dt = timezone.now().replace(microsecond=0)
    now = now_dt.timestamp()
    teams, services, agents, approvers, members, superuser = people(rng)
    policies = {p.severity: p for p in SLAPolicy.objects.all()}
    calendar = Calendar(rng, now)
    service_weights = zipf_weights(len(services), 0.9)
    service_ids = [s.pk for s in services]
    owner = {s.pk: s.owner_team_id for s in services}
    team_ids = [t.pk for t in teams]
    scale = count / 1_000_000
    n_changes, n_releases = int(200_000 * scale), int(20_000 * scale)
    counts: dict[str, int] = {}

    with connection.cursor() as django_cursor:
        cursor = django_cursor if SQLITE else django_cursor.cursor  # the psycopg cursor, for COPY

        # Releases: created over the years, 2-25 days to complete.
        table = Table(Release, now_dt)
        release_created = calendar.instants(n_releases)
        releases = []  # (id, created, completed or None, state, service)
        for i, created in enumerate(release_created, start=1):
            cycle = lognormal(rng, 9 * DAY, 0.5)
            done_at = created + cycle
            roll = rng.random()
            if done_at > now:
                state = rng.choice(["planning", "preparation", "implementation", "verification"])
                completed = None
            elif roll < 0.03:
                state, completed = "failed", None
            elif roll < 0.06:
                state, completed = "rolled_back", None
            elif roll < 0.08:
                state, completed = "cancelled", None
            else:
                state, completed = "completed", done_at
            releases.append((i, created, completed, state, rng.choices(service_ids, service_weights)[0], done_at))

        def release_rows():
            for i, created, completed, state, _service, _done in releases:
                yield table.row({
                    "id": str(i), "number": f"REL-{i:06d}", "name": f"Release {i}", "version": f"{i // 100}.{i % 100}",
                    "created_at": ts(created), "completed_at": ts(completed), "state": state,
                    "release_manager_id": str(superuser.pk), "updated_at": ts(completed or created),
                })

        copy(cursor, table, release_rows(), len(releases), "releases")
        copy_pairs(cursor, Release.services.through._meta.db_table, ("release_id", "service_id"),
                   [(r[0], r[4]) for r in releases], "release m2m")
        counts["releases"] = len(releases)

        # Deployments: staging then production for releases that reached implementation.
        table = Table(Deployment, now_dt)
        deployments = []
        first_production = {}  # release id -> first successful production finish
        for rid, created, completed, state, _service, done_at in releases:
            if state in ("planning", "preparation", "cancelled"):
                continue
            end = completed or min(done_at, now - 3600)
            for environment, at in (("staging", created + (end - created) * 0.55),
                                    ("production", created + (end - created) * 0.8)):
                status = "failed" if rng.random() < 0.12 else "succeeded"
                if state == "implementation" and environment == "production":
                    status = "running" if rng.random() < 0.5 else status
                finished = None if status == "running" else at
                deployments.append((rid, environment, at - 12 * 60, finished, status))
                if environment == "production" and status == "succeeded" and rid not in first_production:
                    first_production[rid] = at

        def deployment_rows():
            for i, (rid, environment, started, finished, status) in enumerate(deployments, start=1):
                yield table.row({
                    "id": str(i), "release_id": str(rid), "environment": environment, "started_at": ts(started),
                    "finished_at": ts(finished), "status": status, "deployed_by_id": str(superuser.pk),
                })

        copy(cursor, table, deployment_rows(), len(deployments), "deployments")
        counts["deployments"] = len(deployments)

        # Changes, with their services and approvals.
        table = Table(ChangeRequest, now_dt)
        approval_table = Table(ChangeApproval, now_dt)
        change_created = calendar.instants(n_changes)
        release_by_period = [r for r in releases if r[3] not in ("cancelled",)]
        approvals = []
        change_services = []

        def change_rows():
            for i, created in enumerate(change_created, start=1):
                kind = rng.choices(["standard", "normal", "emergency"], [40, 50, 10])[0]
                submitted = created + (lognormal(rng, 3600, 1.0) if kind != "emergency" else 300)
                approval_wait = {"standard": 0, "normal": lognormal(rng, 2 * DAY, 0.7), "emergency": 1800}[kind]
                approved = submitted + approval_wait
                start = approved + lognormal(rng, 2 * DAY, 0.8) if kind != "emergency" else approved + 600
                end = start + lognormal(rng, 2 * 3600, 0.8)
                roll = rng.random()
                if end > now:
                    state = "in_progress" if start <= now else ("approved" if approved <= now else "submitted")
                    if submitted > now:
                        state = "draft"
                elif roll < 0.02:
                    state = "rejected"
                elif roll < 0.05:
                    state = "cancelled"
                elif roll < 0.08:
                    state = "failed"
                elif roll < 0.12:
                    state = "rolled_back"
                else:
                    state = "completed"
                started = state in ("in_progress", "completed", "failed", "rolled_back")
                finished = state in ("completed", "failed", "rolled_back")
                is_approved = state not in ("draft", "submitted", "rejected") and not (state == "cancelled")
                release_id = None
                if rng.random() < 0.4:
                    share = (created - calendar.day_starts[0]) / (now - calendar.day_starts[0])
                    j = min(int(len(release_by_period) * share), len(release_by_period) - 1)
                    release_id = release_by_period[max(0, j - rng.randrange(0, 30))][0]
                service = rng.choices(service_ids, service_weights)[0]
                change_services.append((i, service))
                if rng.random() < 0.25:
                    other = rng.choice(service_ids)
                    if other != service:
                        change_services.append((i, other))
                decided = is_approved or state == "rejected"
                if decided and kind != "standard":
                    roles = ("technical", "business", "operations") if kind == "normal" else ("operations",)
                    for k, role in enumerate(roles):
                        decision = "rejected" if state == "rejected" and k == len(roles) - 1 else "approved"
                        approvals.append((i, role, rng.choice(approvers[role]), decision,
                                          submitted + approval_wait * (k + 1) / len(roles)))
                risk = {"standard": "low", "normal": rng.choice(["low", "medium", "medium", "high"]),
                        "emergency": "high"}[kind]
                yield table.row({
                    "id": str(i), "number": f"CHG-{i:06d}", "title": f"{rng.choice(TITLES)}: fix", "change_type": kind,
                    "risk": risk, "requester_id": str(rng.choice(agents)), "implementer_id": str(owner[service]),
                    "created_at": ts(created), "submitted_at": ts(submitted if state != "draft" else None),
                    "approved_at": ts(approved if is_approved else None),
                    "planned_start": ts(start), "planned_end": ts(start + 4 * 3600),
                    "actual_start": ts(start if started else None), "actual_end": ts(end if finished else None),
                    "release_id": str(release_id) if release_id else r"\N", "state": state,
                    "updated_at": ts(min(end, now)),
                })

        copy(cursor, table, change_rows(), n_changes, "changes")
        counts["changes"] = n_changes
        copy_pairs(cursor, ChangeRequest.services.through._meta.db_table, ("changerequest_id", "service_id"),
                   change_services, "change m2m")

        def approval_rows():
            for i, (change, role, approver, decision, at) in enumerate(approvals, start=1):
                yield approval_table.row({
                    "id": str(i), "change_id": str(change), "role": role, "approver_id": str(approver),
                    "decision": decision, "decided_at": ts(min(at, now - 60)),
                })

        copy(cursor, approval_table, approval_rows(), len(approvals), "approvals")
        counts["approvals"] = len(approvals)

        # Incidents.
        table = Table(Incident, now_dt)
        detected_all = calendar.instants(count)
        completed_releases = [r[0] for r in releases if r[3] == "completed"]

        def incident_rows():
            for i, detected in enumerate(detected_all, start=1):
                severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
                policy = policies[severity]
                response_s = policy.response_time.total_seconds()
                resolution_s = policy.resolution_time.total_seconds()
                threshold = float(policy.warning_threshold)
                to_detect, to_ack, to_resolve = MEDIANS[severity]
                age = now - detected
                open_share = 0.8 if age < 2 * DAY else 0.4 if age < 14 * DAY else 0.15 if age < 90 * DAY else 0.08
                service = rng.choices(service_ids, service_weights)[0]
                team = owner[service] if rng.random() < 0.9 else rng.choice(team_ids)
                v = {
                    "id": str(i), "number": f"INC-{i:06d}", "title": rng.choice(TITLES), "severity": severity,
                    "service_id": str(service), "team_id": str(team), "reporter_id": str(rng.choice(agents)),
                    "customers_affected": str(int(lognormal(rng, 20, 2.0)) if rng.random() < 0.6 else 0),
                    "confidential": "t" if rng.random() < 0.005 else "f",
                }
                started = detected - lognormal(rng, to_detect, 0.9)
                v["started_at"], v["detected_at"] = ts(started), ts(detected)
                v["detection_breached"] = fmt(detected - started > policy.detection_time.total_seconds())
                response_due = detected + response_s
                resolution_due = detected + resolution_s
                response_warning = detected + response_s * threshold
                resolution_warning = detected + resolution_s * threshold
                v |= {"response_due": ts(response_due), "resolution_due": ts(resolution_due),
                      "response_warning_due": ts(response_warning), "resolution_warning_due": ts(resolution_warning)}
                ack = detected + lognormal(rng, to_ack, 1.0)
                resolved = ack + lognormal(rng, to_resolve, 1.1)
                if rng.random() < 0.03:
                    state = "cancelled"
                elif rng.random() < open_share or resolved > now:
                    state = rng.choices(["detected", "responding", "on_hold"], [30, 55, 15])[0]
                elif resolved > now - 2 * DAY and rng.random() < 0.6:
                    state = "resolved"
                else:
                    state = "closed" if rng.random() < 0.93 else "resolved"
                v["state"] = state
                if state == "detected" or (state == "cancelled" and ack > now):
                    ack = None
                elif ack > now:
                    ack = now - 60
                if state in ("detected", "responding", "on_hold", "cancelled"):
                    resolved_at = None
                else:
                    resolved_at = min(resolved, now - 60)
                    ack = min(ack, resolved_at)
                v["acknowledged_at"] = ts(ack)
                v["resolved_at"] = ts(resolved_at)
                on_hold_since = None
                if state == "on_hold":
                    on_hold_since = min(ack + (now - ack) * rng.random(), now - 60)
                    v["on_hold_since"] = ts(on_hold_since)
                if state != "cancelled":
                    # What the sweep would have flagged by now.
                    response_late = (ack is None and response_due <= now) or (ack is not None and ack > response_due)
                    resolution_late = (
                        (state in ("detected", "responding") and resolution_due <= now)
                        or (on_hold_since is not None and on_hold_since > resolution_due)
                        or (resolved_at is not None and resolved_at > resolution_due)
                    )
                    if response_late:
                        v["response_breached"], v["response_breached_at"] = "t", ts(response_due)
                        v["escalation_level"] = "1"
                    if resolution_late:
                        v["resolution_breached"], v["resolution_breached_at"] = "t", ts(resolution_due)
                        v["escalation_level"] = "2" if response_late else "1"
                    if response_warning <= (ack if ack is not None else now) and not response_late:
                        v["response_warned_at"] = ts(response_warning + 30)
                    stopped = resolved_at or on_hold_since or (now if state in ("detected", "responding") else None)
                    if stopped is not None and resolution_warning <= stopped and not resolution_late:
                        v["resolution_warned_at"] = ts(resolution_warning + 30)
                else:
                    v["cancel_reason"] = rng.choice(["false_alarm", "duplicate", "other"])
                if ack is not None or state in ("responding", "on_hold"):
                    members_of = members.get(team)
                    if members_of:
                        v["assignee_id"] = str(rng.choice(members_of))
                if resolved_at is not None:
                    v["working_time_to_resolve"] = secs(resolved_at - detected)
                    v["resolution_summary"] = "Restarted the failing component."
                    follow_up_due = resolved_at + policy.follow_up_time.total_seconds()
                    v["follow_up_due"] = ts(follow_up_due)
                    if state == "closed":
                        closed = resolved_at + lognormal(rng, 10 * 3600, 0.8)
                        closed = min(closed, now - 30)
                        v["closed_at"] = ts(closed)
                        v["root_cause"], v["lessons_learned"] = "A configuration change.", "Review config changes."
                        if closed > follow_up_due:
                            v["follow_up_breached"], v["follow_up_breached_at"] = "t", ts(follow_up_due)
                    elif follow_up_due <= now:
                        v["follow_up_breached"], v["follow_up_breached_at"] = "t", ts(follow_up_due)
                if completed_releases and rng.random() < 0.03:
                    v["caused_by_release_id"] = str(rng.choice(completed_releases))
                elif rng.random() < 0.02:
                    v["caused_by_change_id"] = str(rng.randrange(1, n_changes + 1))
                if severity == "critical" and rng.random() < 0.3:
                    v["major"], v["major_declared_at"] = "t", ts(detected + 600)
                v["updated_at"] = ts(max(t for t in (detected, ack or 0, resolved_at or 0, on_hold_since or 0)))
                yield table.row(v)

        copy(cursor, table, incident_rows(), count, "incidents")
        counts["incidents"] = count

        for model in (Release, Deployment, ChangeRequest, ChangeApproval, Incident) if not SQLITE else ():
            name = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM \"{name}\"))")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--sqlite", metavar="PATH", help="fill this SQLite file instead (made anew)")
    args = parser.parse_args()
    global SQLITE
    if args.sqlite:
        SQLITE = True
        if "bench" not in Path(args.sqlite).name:
            raise SystemExit("Refusing to replace a file whose name does not contain 'bench'.")
        for suffix in ("", "-wal", "-shm"):
            Path(args.sqlite + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.sqlite).resolve()}"
    url = os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdesk_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings.test")
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    if not SQLITE:
        fresh_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from django.db import transaction

    with transaction.atomic() if SQLITE else contextlib.nullcontext():  # SQLite: one commit, not one per row
        counts = seed(args.incidents, random.Random(args.seed))
    sys.stderr.write("metric rollups …\n")
    from metrics import rollups

    rollups.build()  # set-based; the metrics then read ~100 000 rollup rows a year, not the incidents
    sys.stderr.write("analyze …\n")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with connection.cursor() as cursor:
        if SQLITE:
            size = f"{Path(args.sqlite).stat().st_size / 1e6:.0f} MB"
        else:
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = cursor.fetchone()[0]
    print(
        f"Seeded {', '.join(f'{v:,} {k}' for k, v in counts.items())} into {urlparse(url).path.lstrip('/')} "
        f"({size}) in {time.monotonic() - started:.0f} s. "
        f"Log in as bench / {BENCH_PASSWORD}."
    )


if __name__ == "__main__":
    main()
