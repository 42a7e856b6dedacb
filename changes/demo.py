"""Demo changes: about 150 change requests over the last 90 days and the next month.

Built with the real services (so transitions, approvals, logs, risk scores,
conflicts and the release hand-off are genuine), passing explicit times
(``at=``), no time travel. Every change answers the risk questionnaire. The
board is left with work waiting: submitted normal changes with no or partial
decisions and submitted emergency changes, so "awaiting my approval" is
non-empty for each board role, and a CAB meeting next week has them on its
agenda. Maintenance windows and deliberate collisions give every conflict kind.
"""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings
from django.utils import timezone

from opsdesk.choices import Role
from releases.demo import cut_release_train

from . import conflicts, selectors, services
from .choices import ChangeState, ChangeType
from .models import ChangeFreeze, ChangeRequest, MaintenanceWindow, StandardChangeTemplate

TOTAL = 150

TEMPLATES = [
    ("TLS certificate renewal", "Replace the certificate before it expires.",
     "Install the renewed certificate and reload the proxies.", "Check expiry and chain with openssl.",
     "Reinstall the previous certificate."),
    ("OS security patches", "Monthly operating-system patching of a server group.",
     "Patch and reboot the hosts one at a time behind the load balancer.", "Health checks green after each host.",
     "Boot the previous kernel; restore the snapshot."),
    ("Add firewall rule", "Open a documented port between two known networks.",
     "Apply the reviewed rule set with the firewall manager.", "Connection test from both sides.",
     "Remove the rule."),
    ("Scale out web tier", "Add application nodes behind the load balancer.",
     "Provision nodes from the golden image and add them to the pool.", "Synthetic checks on the new nodes.",
     "Drain and remove the new nodes."),
]

TITLES = [
    "Upgrade PostgreSQL minor version", "Rotate database credentials", "Migrate DNS to the new resolver",
    "Replace core switch line card", "Enable HTTP/2 on the edge proxies", "Move batch jobs to the new scheduler",
    "Upgrade the Kubernetes control plane", "Introduce read replicas", "Change SMTP relay", "Renew VPN concentrator",
    "Deploy new payment provider adapter", "Re-index the search cluster", "Tighten password policy",
    "Add MFA for administrators", "Increase connection pool size", "Move logs to the new retention policy",
    "Upgrade the HR system to 11.4", "Split the reporting database", "Patch the SSO identity provider",
    "Replace the backup appliance", "Switch CDN origin", "Change firewall NAT rules", "Upgrade Java runtime",
    "Add a datacentre uplink", "Decommission the legacy FTP server",
]
EMERGENCY_TITLES = [
    "Hotfix: payment timeouts", "Emergency patch for OpenSSL CVE", "Roll out fix for login loop",
    "Restore failed RAID controller", "Block abusive traffic at the edge",
]


LOW_RISK_ANSWERS = {
    "user_impact": "none", "complexity": "low", "tested_in_staging": True, "rollback_tested": True,
    "outage_required": False,
}


def _answers(rng, change_type) -> dict:
    """A plausible questionnaire: standard changes are routine, emergencies rushed, normal ones vary."""
    if change_type == ChangeType.STANDARD:
        return dict(LOW_RISK_ANSWERS)
    if change_type == ChangeType.EMERGENCY:
        return {"user_impact": rng.choice(["some", "all"]), "complexity": rng.choice(["medium", "high"]),
                "tested_in_staging": rng.random() < 0.3, "rollback_tested": rng.random() < 0.3,
                "outage_required": rng.random() < 0.5}
    return {
        "user_impact": rng.choice(["none", "none", "some", "some", "all"]),
        "complexity": rng.choice(["low", "medium", "medium", "high"]),
        "tested_in_staging": rng.random() < 0.8, "rollback_tested": rng.random() < 0.6,
        "outage_required": rng.random() < 0.3,
    }


def _window(ctx, start, hours):
    start = start.replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=hours)


def _overlaps_freeze(freezes, services_of_change, start, end, *, ignore=False):
    if ignore:
        return False
    for freeze, scope in freezes:
        if freeze.start < end and freeze.end > start and (not scope or scope & set(services_of_change)):
            return True
    return False


def seed(ctx) -> str:
    """Create templates, two freezes and ~150 changes in every type and state; returns a summary."""
    rng, now = ctx.rng, ctx.now
    manager = ctx.user(Role.CHANGE_MANAGERS)
    board = {
        "technical": ctx.users[Role.TECH_LEADS][0],
        "business": ctx.users[Role.PRODUCT_OWNERS][0],
        "operations": ctx.users[Role.OPS_MANAGERS][0],
    }
    services_by_slug = {service.slug: service for service in ctx.services}

    templates = []
    for name, description, implementation, testing, rollback in TEMPLATES:
        template = StandardChangeTemplate.objects.create(
            name=name, description=description, implementation_plan=implementation, testing_plan=testing,
            rollback_plan=rollback,
        )
        template.services.set(ctx.services)
        templates.append(template)

    past_freeze = ChangeFreeze.objects.create(
        name="Quarter-end close", start=(now - timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0),
        end=(now - timedelta(days=36)).replace(hour=0, minute=0, second=0, microsecond=0),
        reason="Finance closes the quarter: no planned changes on any service.",
    )
    upcoming = ChangeFreeze.objects.create(
        name="Holiday sales freeze",
        start=(now + timedelta(days=12)).replace(hour=0, minute=0, second=0, microsecond=0),
        end=(now + timedelta(days=19)).replace(hour=0, minute=0, second=0, microsecond=0),
        reason="Peak trading: keep the shop and payments stable.",
    )
    shop = [services_by_slug[s] for s in ("customer-portal", "payments-api") if s in services_by_slug]
    upcoming.services.set(shop)
    freezes = [(past_freeze, set()), (upcoming, set(shop))]

    counts: dict[str, int] = {}

    def make(*, change_type, created, start, hours, svc, target, title, emergency_in_freeze=False,
             partial=(), implementer=None, answers=None):
        """One change driven to ``target`` through the services, with times after ``created``."""
        end = start + timedelta(hours=hours)
        while _overlaps_freeze(freezes, svc, start, end, ignore=emergency_in_freeze):
            start += timedelta(days=3)
            end = start + timedelta(hours=hours)
        template = rng.choice(templates) if change_type == ChangeType.STANDARD else None
        fields = dict(
            change_type=change_type, risk_answers=answers or _answers(rng, change_type), services=svc,
            planned_start=start, planned_end=end, implementer=implementer or svc[0].owner_team,
            impact_assessment=rng.choice([
                "Brief loss of redundancy; no customer impact expected.",
                "Up to five minutes of degraded response times.",
                "Users may need to log in again.",
            ]),
            business_justification=rng.choice([
                "Keeps the platform supported and secure.", "Removes a recurring cause of incidents.",
                "Needed for the next product release.",
            ]),
        )
        if template is not None:  # the plans come from the template
            fields.update(title=template.name, template=template)
        else:
            fields.update(
                title=title, description=f"{title}. Requested by the {svc[0].owner_team} team.",
                implementation_plan="Follow the runbook in the team wiki, step by step.",
                testing_plan="Smoke tests and the monitoring dashboard for 30 minutes.",
                rollback_plan="Revert to the previous version with the documented steps.",
            )
        change = services.change_create(by=manager, at=created, **fields)
        counts[target] = counts.get(target, 0) + 1
        if target == ChangeState.DRAFT:
            return change
        if target == ChangeState.CANCELLED and rng.random() < 0.5:
            services.change_transition(instance=change, name="cancel", by=manager, at=created + timedelta(hours=2),
                                       comment="No longer needed.")
            return change
        submitted = min(created + timedelta(hours=rng.randint(1, 20)), now - timedelta(minutes=45))
        change = services.change_transition(instance=change, name="submit", by=manager, at=submitted)
        if change_type != ChangeType.STANDARD:
            roles = ["operations"] if change_type == ChangeType.EMERGENCY else ["technical", "business", "operations"]
            rng.shuffle(roles)
            at = submitted
            if target == ChangeState.SUBMITTED:
                for role in partial:
                    at += timedelta(hours=rng.randint(1, 12))
                    services.change_approve(change=change, by=board[role], at=min(at, now - timedelta(minutes=10)),
                                            comment="Fine from my side.")
                return change
            if target == ChangeState.REJECTED:
                role = roles[-1]
                for other in roles[:-1]:
                    at += timedelta(hours=rng.randint(1, 12))
                    services.change_approve(change=change, by=board[other], at=at)
                services.change_reject(change=change, by=board[role], at=at + timedelta(hours=3), comment=rng.choice([
                    "Rollback plan is not tested.", "Clashes with the release train.",
                    "Business impact not justified this quarter.",
                ]))
                return change
            # The release train moves on: a release collecting changes for 10+ days is cut first.
            cut_release_train(for_services=svc, at=submitted, ctx=ctx)
            step = timedelta(minutes=rng.randint(20, 90)) if change_type == ChangeType.EMERGENCY else None
            for index, role in enumerate(roles):
                # Decisions are history: the last one a little before "now", never after it.
                at = min(at + (step or timedelta(hours=rng.randint(1, 18))),
                         now - timedelta(minutes=10 * (len(roles) - index)))
                services.change_approve(change=change, by=board[role], at=at,
                                        comment="" if rng.random() < 0.6 else "Approved, mind the window.")
        if target == ChangeState.APPROVED:
            return change
        if target == ChangeState.CANCELLED:
            services.change_transition(instance=change, name="cancel", by=manager,
                                       at=min(start - timedelta(hours=1), now - timedelta(minutes=5)),
                                       comment="Superseded by another change.")
            return change
        change = services.change_transition(instance=change, name="start", by=manager, at=start)
        if target == ChangeState.IN_PROGRESS:
            return change
        review = "Worked as planned; runbook updated." if change_type == ChangeType.EMERGENCY else None
        middle = start + (end - start) / 2
        if target in (ChangeState.FAILED, ChangeState.ROLLED_BACK) and rng.random() < 0.5:
            name = "fail" if target == ChangeState.FAILED else "roll_back"
            return services.change_transition(
                instance=change, name=name, by=manager, at=middle,
                post_implementation_review="Stopped mid-way; see the incident." if review else None,
            )
        change = services.change_transition(instance=change, name="verify", by=manager, at=middle)
        if target == ChangeState.VERIFYING:
            return change
        name = {ChangeState.COMPLETED: "complete", ChangeState.FAILED: "fail",
                ChangeState.ROLLED_BACK: "roll_back"}[target]
        return services.change_transition(
            instance=change, name=name, by=manager, at=end,
            post_implementation_review=review if target == ChangeState.COMPLETED or not review
            else "Checks failed after deployment; reverted.",
        )

    # Past windows: finished work, in order of time.
    past_targets = (
        [ChangeState.COMPLETED] * 62 + [ChangeState.FAILED] * 6 + [ChangeState.ROLLED_BACK] * 6
        + [ChangeState.REJECTED] * 8 + [ChangeState.CANCELLED] * 6
    )
    rng.shuffle(past_targets)
    for index, target in enumerate(past_targets):
        start = now - timedelta(days=85) + timedelta(hours=index * (80 * 24) // len(past_targets))
        start, _ = _window(ctx, start.replace(hour=rng.choice([6, 8, 20, 22])), 1)
        change_type = rng.choices([ChangeType.NORMAL, ChangeType.STANDARD, ChangeType.EMERGENCY], [6, 3, 1])[0]
        if change_type == ChangeType.STANDARD and target == ChangeState.REJECTED:
            change_type = ChangeType.NORMAL
        lead = timedelta(hours=6) if change_type == ChangeType.EMERGENCY else timedelta(days=rng.randint(4, 9))
        make(change_type=change_type, created=start - lead, start=start, hours=rng.choice([1, 2, 3]),
             svc=rng.sample(ctx.services, rng.choice([1, 1, 2])), target=target,
             title=rng.choice(EMERGENCY_TITLES if change_type == ChangeType.EMERGENCY else TITLES))

    # Emergency changes inside the past freeze: allowed and flagged.
    for offset in (6, 30, 54):
        start = past_freeze.start + timedelta(hours=offset)
        make(change_type=ChangeType.EMERGENCY, created=start - timedelta(hours=3), start=start, hours=1,
             svc=[rng.choice(ctx.services)], target=ChangeState.COMPLETED, title=rng.choice(EMERGENCY_TITLES),
             emergency_in_freeze=True)

    # Running now.
    for hours_ago in (1, 2):
        start = (now - timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0)
        make(change_type=ChangeType.NORMAL, created=start - timedelta(days=5), start=start, hours=4,
             svc=[rng.choice(ctx.services)],
             target=ChangeState.IN_PROGRESS if hours_ago == 1 else ChangeState.VERIFYING,
             title=rng.choice(TITLES))

    # Future windows: the board's queue and the calendar.
    future = (
        [(ChangeState.APPROVED, ChangeType.NORMAL)] * 16 + [(ChangeState.APPROVED, ChangeType.STANDARD)] * 6
        + [(ChangeState.DRAFT, ChangeType.NORMAL)] * 8 + [(ChangeState.CANCELLED, ChangeType.NORMAL)] * 2
    )
    remaining = TOTAL - ChangeRequest.objects.count() - len(future) - 10 - 3
    future += [(ChangeState.APPROVED, ChangeType.NORMAL)] * max(remaining, 0)
    rng.shuffle(future)
    busy = ctx.services[:2]  # approved overlapping changes on the same services: conflicts for the board
    for index, (target, change_type) in enumerate(future):
        start = (now + timedelta(days=2 + index * 28 / len(future))).replace(hour=rng.choice([6, 8, 20]), minute=0)
        svc = [busy[index % 2]] if index % 4 == 0 else rng.sample(ctx.services, rng.choice([1, 2]))
        make(change_type=change_type, created=now - timedelta(days=rng.randint(1, 6), hours=rng.randint(1, 12)),
             start=start, hours=rng.choice([2, 3, 4]), svc=svc, target=target, title=rng.choice(TITLES))

    # Waiting on the board: every role has something to decide; two overlap approved work.
    pending = [(), (), (), ("technical",), ("business",), ("operations",), ("technical", "business"),
               ("business", "operations"), ("technical",), ()]
    for index, partial in enumerate(pending):
        start = (now + timedelta(days=3 + index * 2)).replace(hour=8, minute=0, second=0, microsecond=0)
        svc = [busy[0]] if index < 2 else [rng.choice(ctx.services)]
        make(change_type=ChangeType.NORMAL, created=now - timedelta(days=2, hours=index), start=start,
             hours=3, svc=svc, target=ChangeState.SUBMITTED, title=rng.choice(TITLES), partial=partial)
    for index in range(3):
        start = (now + timedelta(hours=6 + index * 5)).replace(minute=0, second=0, microsecond=0)
        make(change_type=ChangeType.EMERGENCY, created=now - timedelta(hours=3 - index), start=start, hours=1,
             svc=[rng.choice(ctx.services)], target=ChangeState.SUBMITTED, title=EMERGENCY_TITLES[index])

    collisions = _collisions(ctx, make, upcoming, busy)
    windows = _maintenance_windows(ctx, services_by_slug)
    meeting = _cab_meeting(ctx, manager, board)

    total = ChangeRequest.objects.count()
    summary = ", ".join(f"{counts[state]} {state}" for state in sorted(counts))
    return (
        f"{total} changes ({summary}), {len(templates)} standard templates, 2 freezes, {windows} maintenance "
        f"windows, {collisions} changes planned to collide, CAB meeting “{meeting}” with "
        f"{selectors.cab_agenda(meeting).count()} changes on its agenda"
    )


def _collisions(ctx, make, freeze, busy) -> int:
    """Submitted and draft changes that show each conflict kind to the board."""
    rng, now = ctx.rng, ctx.now
    made = 0
    # freeze: an emergency inside the holiday freeze (allowed, flagged) and a normal draft inside it.
    inside = freeze.start + timedelta(days=1, hours=9)
    shop = list(freeze.services.all())
    make(change_type=ChangeType.EMERGENCY, created=now - timedelta(hours=2), start=inside, hours=1, svc=shop[:1],
         target=ChangeState.SUBMITTED, title="Emergency patch for OpenSSL CVE", emergency_in_freeze=True)
    make(change_type=ChangeType.NORMAL, created=now - timedelta(days=1), start=inside + timedelta(days=1), hours=2,
         svc=shop[:1], target=ChangeState.DRAFT, title="Switch CDN origin", emergency_in_freeze=True)
    made += 2
    # overlap and implementer_busy: submitted work on top of an approved change, same team, other service.
    approved = (
        ChangeRequest.objects.filter(state=ChangeState.APPROVED, services__in=busy, planned_start__gt=now)
        .order_by("planned_start").first()
    )
    if approved is not None:
        hours = (approved.planned_end - approved.planned_start).total_seconds() / 3600
        others = [service for service in ctx.services if service not in busy]
        make(change_type=ChangeType.NORMAL, created=now - timedelta(days=2, hours=6), start=approved.planned_start,
             hours=hours, svc=[rng.choice(others)], implementer=approved.implementer, target=ChangeState.SUBMITTED,
             title="Replace core switch line card")
        make(change_type=ChangeType.NORMAL, created=now - timedelta(days=2, hours=5),
             start=approved.planned_start, hours=hours, svc=list(approved.services.all()),
             target=ChangeState.SUBMITTED, title="Re-index the search cluster")
        made += 2
    return made


def _maintenance_windows(ctx, services_by_slug) -> int:
    """Weekly windows on three services; changes planned outside them show the conflict."""
    zone = settings.TIME_ZONE
    plan = [
        ("payments-api", "Sunday early morning", [6], time(2), time(6)),
        ("payments-api", "Weeknights", [0, 1, 2, 3], time(20), time(23)),
        ("core-network", "Saturday night", [5], time(22), time(4)),
        ("hr-system", "Working days", [0, 1, 2, 3, 4], time(6), time(20)),
    ]
    made = 0
    for slug, name, days, start, end in plan:
        service = services_by_slug.get(slug)
        if service is None:
            continue
        MaintenanceWindow.objects.create(service=service, name=name, weekdays=days, start_time=start, end_time=end,
                                         time_zone=zone)
        made += 1
    conflicts.refresh_for_services([service.pk for service in services_by_slug.values()])
    return made


def finish(ctx) -> None:
    """After every app seeded: drafts opened by automation get the questionnaire answered by the change manager."""
    manager = ctx.user(Role.CHANGE_MANAGERS)
    for change in ChangeRequest.objects.filter(state=ChangeState.DRAFT, risk_answers={}):
        services.change_update(change=change, by=manager, risk_answers=_answers(ctx.rng, ChangeType.NORMAL))


def _cab_meeting(ctx, manager, board):
    """Last week's meeting with its minutes, and next week's, whose agenda is the submitted normal changes."""
    now = ctx.now
    local = timezone.localtime(now)
    next_week = (local + timedelta(days=7 - local.weekday() + 1)).replace(hour=10, minute=0, second=0,
                                                                          microsecond=0)  # Tuesday 10:00
    past = services.cab_meeting_create(by=manager, title="Weekly CAB", starts_at=next_week - timedelta(days=14),
                                       cutoff=next_week - timedelta(days=15))
    services.cab_record_minutes(
        meeting=past, by=manager, at=past.starts_at + timedelta(hours=1),
        minutes="Reviewed the database and network changes of the week; all approved. "
                "Action: Network Engineering to test rollbacks in staging before submitting.",
        attendees=[manager, *board.values()],
    )
    meeting = services.cab_meeting_create(by=manager, title="Weekly CAB", starts_at=next_week,
                                          cutoff=next_week - timedelta(days=1))
    meeting.attendees.set([manager, *board.values()])
    return meeting
