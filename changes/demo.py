"""Demo changes: about 150 change requests over the last 90 days and the next month.

Built with the real services (so transitions, approvals, logs, freezes, conflicts
and the release hand-off are genuine), passing explicit times (``at=``), no time
travel. The board is left with work waiting: submitted normal changes with no or
partial decisions and submitted emergency changes, so "awaiting my approval" is
non-empty for each board role.
"""

from __future__ import annotations

from datetime import timedelta

from opsdesk.choices import Role
from releases.demo import cut_release_train

from . import services
from .choices import ChangeState, ChangeType, Risk
from .models import ChangeFreeze, ChangeRequest, StandardChangeTemplate

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

    def make(*, change_type, created, start, hours, svc, target, title, risk=None, emergency_in_freeze=False,
             partial=()):
        """One change driven to ``target`` through the services, with times after ``created``."""
        end = start + timedelta(hours=hours)
        while _overlaps_freeze(freezes, svc, start, end, ignore=emergency_in_freeze):
            start += timedelta(days=3)
            end = start + timedelta(hours=hours)
        template = rng.choice(templates) if change_type == ChangeType.STANDARD else None
        risk = risk or (Risk.LOW if template else rng.choice([Risk.LOW, Risk.MEDIUM, Risk.MEDIUM, Risk.HIGH]))
        fields = dict(
            change_type=change_type, risk=risk, services=svc, planned_start=start, planned_end=end,
            implementer=svc[0].owner_team,
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

    total = ChangeRequest.objects.count()
    summary = ", ".join(f"{counts[state]} {state}" for state in sorted(counts))
    return f"{total} changes ({summary}), {len(templates)} standard templates, 2 freezes"
