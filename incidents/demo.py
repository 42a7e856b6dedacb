"""Demo incidents: ~300 over the last 90 days, in every state and severity, through the services.

Each incident is logged with ``incident_create`` and moved with
``incident_transition(at=...)`` at realistic times, so deadlines, the
transition log and the recurring-incident rule are real. A final
``sla_sweep(now=ctx.now)`` flags the breaches and escalates the open ones.
"""

from __future__ import annotations

from datetime import timedelta

from opsdesk.choices import Role
from opsdesk.notifications import muted

from . import services
from .choices import CancelReason, Severity
from .models import SLAPolicy

INCIDENT_COUNT = 300
DAYS = 90

SEVERITY_WEIGHTS = [(Severity.CRITICAL, 8), (Severity.HIGH, 20), (Severity.MEDIUM, 40), (Severity.LOW, 32)]

SYMPTOMS = [
    "{service} returns HTTP 502 for some users",
    "{service} login fails intermittently",
    "{service} is very slow (p95 above 5 s)",
    "{service} unreachable from the branch offices",
    "Errors after the nightly batch on {service}",
    "{service} certificate expired",
    "Disk almost full on a {service} node",
    "{service} timeouts talking to the database",
    "Users report missing data in {service}",
    "Memory leak suspected in {service}",
    "{service} monitoring shows packet loss",
    "Scheduled job on {service} did not run",
]
CONFIDENTIAL_SYMPTOMS = [
    "Suspicious logins on {service}",
    "Possible credential leak affecting {service}",
    "Malware alert on a {service} host",
]
SUMMARIES = [
    "Restarted the failing pods; traffic back to normal.",
    "Rolled back the last deployment.",
    "Renewed the certificate and reloaded the proxies.",
    "Freed disk space and rotated the logs.",
    "Failed over to the standby database.",
    "Fixed the firewall rule that blocked the traffic.",
    "Increased the connection pool and restarted the workers.",
]
ROOT_CAUSES = [
    "A configuration change was deployed without review.",
    "Log rotation was not configured on the new nodes.",
    "The certificate renewal job had been disabled.",
    "A slow query after a schema change saturated the pool.",
    "A supplier changed their API without notice.",
]
LESSONS = [
    "Add an alert before the limit is reached.",
    "Peer review for configuration changes.",
    "Document the failover runbook and rehearse it.",
    "Monitor certificate expiry centrally.",
]
NOTES = [
    "Checked the dashboards: error rate up since the last deploy.",
    "Called the supplier, waiting for an answer.",
    "Customer confirmed the workaround helps.",
    "Escalated to the database team for a second opinion.",
    "Collected logs and attached them to the ticket in the wiki.",
    "Monitoring looks stable for 30 minutes now.",
]


def _between(rng, low: timedelta, high: timedelta) -> timedelta:
    return low + (high - low) * rng.random()


def seed(ctx) -> str:
    """Create the demo incidents; returns a one-line summary."""
    rng = ctx.rng
    now = ctx.now
    desk = ctx.users.get(Role.SERVICE_DESK) or [ctx.admin]
    managers = ctx.users.get(Role.INCIDENT_MANAGERS) or [ctx.admin]
    members = {team.pk: list(team.members.all()) for team in ctx.teams}
    policies = {p.severity: p for p in SLAPolicy.objects.all()}
    severities = [s for s, _ in SEVERITY_WEIGHTS]
    weights = [w for _, w in SEVERITY_WEIGHTS]
    recent = 20  # the current queue: detected within the last day and a half
    detections = sorted(
        [now - _between(rng, timedelta(minutes=5), timedelta(days=DAYS)) for _ in range(INCIDENT_COUNT - recent)]
        + [now - _between(rng, timedelta(minutes=5), timedelta(hours=36)) for _ in range(recent)]
    )

    counts: dict[str, int] = {}
    notes = 0
    with muted():
        for detected_at in detections:
            service = rng.choice(ctx.services)
            severity = rng.choices(severities, weights)[0]
            policy = policies[severity]
            confidential = rng.random() < 0.03
            template = rng.choice(CONFIDENTIAL_SYMPTOMS if confidential else SYMPTOMS)
            team_members = members.get(service.owner_team_id) or []
            reporter = rng.choice(managers if confidential else desk + managers)
            incident = services.incident_create(
                by=reporter,
                title=template.format(service=service.name),
                description=f"Reported by monitoring and users. Impact on {service.name}.",
                service=service,
                severity=severity,
                detected_at=detected_at,
                at=detected_at,
                started_at=detected_at - _between(rng, timedelta(minutes=1), timedelta(minutes=30)),
                customers_affected=rng.choice([0, 0, 3, 12, 40, 150, 800]),
                confidential=confidential,
                assignee=rng.choice(team_members) if team_members and rng.random() < 0.8 else None,
            )
            manager = rng.choice(managers)
            # Security incidents are handled by the Incident Managers (the desk may not see them).
            responder = manager if confidential else rng.choice(desk)
            last = detected_at

            def step(name, at, by, **fields):
                nonlocal incident, last
                incident = services.incident_transition(instance=incident, name=name, by=by, at=at, **fields)
                last = at

            # A few are false alarms or duplicates.
            if rng.random() < 0.05:
                at = detected_at + _between(rng, timedelta(minutes=2), timedelta(minutes=40))
                if at < now:
                    step("cancel", at, manager, reason=rng.choice(CancelReason.values[:2]))
                counts[incident.state] = counts.get(incident.state, 0) + 1
                continue

            if now - detected_at < timedelta(days=3) and rng.random() < 0.6:
                # Still being worked on: the open queue.
                fate = rng.choice(["detected", "responding", "responding", "on_hold"])
                if fate != "detected":
                    ack_at = min(detected_at + policy.response_time * rng.uniform(0.1, 1.5),
                                 detected_at + (now - detected_at) * 0.3)
                    step("acknowledge", ack_at, responder)
                if fate == "on_hold":
                    step("hold", ack_at + (now - ack_at) * rng.uniform(0.1, 0.6), manager,
                         comment="Waiting for the supplier.")
                counts[incident.state] = counts.get(incident.state, 0) + 1
                continue

            late_response = rng.random() < 0.15
            ack_at = detected_at + policy.response_time * (
                rng.uniform(1.1, 2.5) if late_response else rng.uniform(0.1, 0.9)
            )
            if rng.random() < 0.1:
                # Fixed before anyone acknowledged it: resolve straight from detected.
                resolve_at = ack_at
                if resolve_at < now:
                    step("resolve", resolve_at, responder, resolution_summary=rng.choice(SUMMARIES))
            elif ack_at < now:
                step("acknowledge", ack_at, responder)
                budget = policy.resolution_time * (
                    rng.uniform(1.05, 2.0) if rng.random() < 0.15 else rng.uniform(0.2, 0.9)
                )
                resolve_at = ack_at + budget
                if rng.random() < 0.12:
                    hold_at = ack_at + budget * rng.uniform(0.1, 0.5)
                    resume_at = hold_at + _between(rng, timedelta(minutes=20), timedelta(hours=6))
                    if hold_at < now:
                        step("hold", hold_at, manager, comment="Waiting for the supplier.")
                        if resume_at < now:
                            step("resume", resume_at, manager, comment="Supplier answered.")
                            resolve_at += resume_at - hold_at
                        else:
                            resolve_at = now + timedelta(days=1)  # still on hold
                if resolve_at < now:
                    step("resolve", resolve_at, responder, resolution_summary=rng.choice(SUMMARIES))
            if incident.state == "resolved":
                close_at = last + _between(rng, timedelta(hours=2), timedelta(days=3))
                if close_at < now and rng.random() < 0.85:
                    step(
                        "close", close_at, manager,
                        root_cause=rng.choice(ROOT_CAUSES), lessons_learned=rng.choice(LESSONS),
                    )
                elif rng.random() < 0.05 and last + timedelta(hours=1) < now:
                    step("reopen", last + timedelta(hours=1), manager, comment="The fix did not hold.")
            if rng.random() < 0.3:
                end = min(last + timedelta(hours=1), now)
                for _ in range(rng.randint(1, 3)):
                    author = manager if confidential else rng.choice(desk + managers)
                    services.incident_add_note(
                        incident=incident, by=author, body=rng.choice(NOTES),
                        at=detected_at + (end - detected_at) * rng.random(),
                    )
                    notes += 1
            counts[incident.state] = counts.get(incident.state, 0) + 1
        swept = services.sla_sweep(now=now)

    states = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    breaches = swept["response_breached"] + swept["resolution_breached"]
    return f"{len(detections)} incidents ({states}), {notes} notes, {breaches} SLA breaches flagged"
