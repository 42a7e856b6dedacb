"""Demo incidents: ~300 over the last 90 days, in every state and severity, through the services.

Each incident is logged with ``incident_create`` and moved with
``incident_transition(at=...)`` at realistic times, so deadlines, the
transition log and the automation rules (auto-assignment, recurring incidents)
are real. When the recurring-incident rule opens a problem change, the change
manager and the board work it over the next days (``ProblemChangeWork``), so
later incidents stop attaching to it once it is done. A final
``sla_sweep(now=ctx.now)`` flags the breaches and escalates the open ones.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.notifications import muted

from . import calendars, services
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


# A desk this busy (300 incidents in 90 days on eight services) raises the threshold of the
# recurring-incident rule, as the operations manager would: five incidents within a week.
DEMO_RECURRING_PARAMS = {"count": 5, "days": 7}


def tune_recurring_rule(ctx) -> None:
    """The operations manager tunes the rule before the history starts (an ordinary rule update)."""
    from automation import services as automation_services
    from automation.models import AutomationRule

    rule = AutomationRule.objects.filter(key=ProblemChangeWork.RULE).first()
    if rule is not None:
        automation_services.rule_update(rule=rule, by=ctx.user(Role.OPS_MANAGERS), params=DEMO_RECURRING_PARAMS)


class ProblemChangeWork:
    """The change manager and the board working the changes the recurring-incident rule opens.

    Each new problem change gets its plans and a window and is submitted a day
    later, decided by the board over the next hours, and implemented in its
    window; every step happens only once the demo's clock (the next incident's
    detection) has passed it, and never after the demo's "now".
    """

    RULE = "recurring_incidents_to_change"

    def __init__(self, ctx):
        from changes.models import ChangeRequest

        self.ctx = ctx
        self.known = set(ChangeRequest.objects.filter(created_by_rule=self.RULE).values_list("pk", flat=True))
        self.agenda: list = []
        self.order = itertools.count()  # ties in time keep the order the steps were planned in
        self.manager = ctx.users[Role.CHANGE_MANAGERS][0]
        self.board_roles = (Role.TECH_LEADS, Role.PRODUCT_OWNERS, Role.OPS_MANAGERS)

    def notice_new_changes(self) -> None:
        from changes.models import ChangeRequest

        for change in ChangeRequest.objects.filter(created_by_rule=self.RULE).exclude(pk__in=self.known):
            self.known.add(change.pk)
            self._plan(change)

    def run_until(self, moment) -> None:
        while self.agenda and self.agenda[0][0] <= moment:
            _, _, step = heapq.heappop(self.agenda)
            step()

    def _later(self, at, step) -> None:
        if at < self.ctx.now - timedelta(minutes=5):
            heapq.heappush(self.agenda, (at, next(self.order), step))

    def _plan(self, change) -> None:
        from changes import services as change_services

        rng = self.ctx.rng
        submit_at = change.created_at + timedelta(days=1, hours=rng.randint(0, 6))
        window = (submit_at + timedelta(days=3)).replace(hour=6, minute=0, second=0, microsecond=0)

        def submit():
            nonlocal window
            for _ in range(6):  # a window outside any freeze
                try:
                    change_services.change_update(
                        change=change, by=self.manager, testing_plan="Run the regression checks of the service.",
                        rollback_plan="Revert the configuration from the backup taken before the change.",
                        implementation_plan="Fix the cause found in the incident reviews.",
                        planned_start=window, planned_end=window + timedelta(hours=2),
                    )
                    change_services.change_transition(instance=change, name="submit", by=self.manager, at=submit_at)
                except DomainValidationError:
                    window += timedelta(days=3)
                    continue
                break
            else:
                return
            for index, role in enumerate(self.board_roles):
                # The requester (a team lead) may sit on the board: a deputy decides instead.
                member = next(u for u in self.ctx.users[role] if u.pk != change.requester_id)
                at = submit_at + timedelta(hours=2 + 3 * index)
                self._later(at, lambda member=member, at=at, last=index == 2: approve(member, at, last))

        def approve(member, at, last):
            try:
                change_services.change_approve(change=change, by=member, comment="Fix the cause, yes.", at=at)
            except TransitionNotAllowed:
                return
            if last:
                self._later(window, implement)

        def implement():
            try:
                current = change_services.change_transition(instance=change, name="start", by=self.manager, at=window)
                if window + timedelta(hours=2) < self.ctx.now:
                    current = change_services.change_transition(
                        instance=current, name="verify", by=self.manager, at=window + timedelta(hours=1)
                    )
                    change_services.change_transition(
                        instance=current, name="complete", by=self.manager, at=window + timedelta(hours=2)
                    )
            except (TransitionNotAllowed, DomainValidationError):
                return

        self._later(submit_at, submit)


# Business-hours SLA calendars (§2): the medium queue is worked in office hours of the
# site's time zone, the low queue by a desk in Sydney. Their hours never overlap with
# the site's office hours in UTC, Europe/* and most zones, so whenever the demo is
# seeded, some open low or medium incidents stand still "outside business hours".
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _calendars(ctx) -> dict[str, str]:
    """Create the two demo calendars and attach them to the medium and low policies."""
    year = timezone.localdate(ctx.now).year
    holidays = []
    for y in (year - 1, year, year + 1):
        holidays += [f"{y}-01-01", f"{y}-05-01", [f"{y}-12-24", f"{y}-12-26"], f"{y}-12-31"]
    office = calendars.calendar_create(
        by=ctx.admin,
        name="Office hours",
        time_zone=settings.TIME_ZONE,
        hours={day: [["09:00", "12:30"], ["13:30", "17:30"]] for day in WEEKDAYS},
        holidays=holidays,
    )
    apac = calendars.calendar_create(
        by=ctx.admin,
        name="APAC service desk",
        time_zone="Australia/Sydney",
        hours={day: [["09:00", "17:00"]] for day in WEEKDAYS},
        holidays=[f"{y}-01-26" for y in (year - 1, year, year + 1)],
    )
    for severity, calendar in ((Severity.MEDIUM, office), (Severity.LOW, apac)):
        calendars.sla_policy_update(policy=SLAPolicy.objects.get(severity=severity), by=ctx.admin, calendar=calendar)
    return {Severity.MEDIUM: office.name, Severity.LOW: apac.name}


def seed(ctx) -> str:
    """Create the demo calendars and incidents; returns a one-line summary."""
    rng = ctx.rng
    now = ctx.now
    desk = ctx.users.get(Role.SERVICE_DESK) or [ctx.admin]
    managers = ctx.users.get(Role.INCIDENT_MANAGERS) or [ctx.admin]
    members = {team.pk: list(team.members.all()) for team in ctx.teams}
    calendar_names = _calendars(ctx)
    policies = {p.severity: p for p in SLAPolicy.objects.select_related("calendar")}
    severities = [s for s, _ in SEVERITY_WEIGHTS]
    weights = [w for _, w in SEVERITY_WEIGHTS]
    recent = 20  # the current queue: detected within the last day and a half
    detections = sorted(
        [now - _between(rng, timedelta(minutes=5), timedelta(days=DAYS)) for _ in range(INCIDENT_COUNT - recent)]
        + [now - _between(rng, timedelta(minutes=5), timedelta(hours=36)) for _ in range(recent)]
    )

    counts: dict[str, int] = {}
    notes = 0
    tune_recurring_rule(ctx)
    problem_changes = ProblemChangeWork(ctx)
    work = ProcessWork(ctx)
    give_services_stakeholders(ctx)
    with muted():
        for detected_at in detections:
            problem_changes.run_until(detected_at)
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
            problem_changes.notice_new_changes()
            manager = rng.choice(managers)
            # Security incidents are handled by the Incident Managers (the desk may not see them).
            responder = manager if confidential else rng.choice(desk)
            work.logged(incident, detected_at, responder, routine=policy.notification_level == "routine")
            last = detected_at

            def step(name, at, by, responder=responder, manager=manager, team_members=team_members, **fields):
                nonlocal incident, last
                if name == "resolve":
                    work.before_resolve(incident, at, responder)
                elif name == "close":
                    work.before_close(incident, at, manager, team_members)
                incident = services.incident_transition(instance=incident, name=name, by=by, at=at, **fields)
                if name == "acknowledge":
                    work.acknowledged(incident, at, responder)
                last = at

            # A few are false alarms or duplicates.
            if rng.random() < 0.05:
                at = detected_at + _between(rng, timedelta(minutes=2), timedelta(minutes=40))
                if at < now:
                    step("cancel", at, manager, reason=rng.choice(CancelReason.values[:2]))
                counts[incident.state] = counts.get(incident.state, 0) + 1
                continue

            age = now - detected_at
            # Still being worked on: the open queue. Most open incidents are within their
            # resolution window (a desk is not in permanent crisis); a few have run over.
            within = age < policy.resolution_time * 0.7 and rng.random() < 0.6
            overrun = age < timedelta(days=3) and rng.random() < 0.03
            if within or overrun:
                fate = rng.choice(["detected", "responding", "responding", "on_hold"])
                if fate == "detected" and age > policy.response_time * 0.8 and not overrun:
                    fate = "responding"  # acknowledged in time
                if fate != "detected":
                    ack_at = detected_at + min(policy.response_time * rng.uniform(0.1, 0.9 if within else 1.5),
                                               age * (0.9 if within else 0.3))
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
        problem_changes.run_until(now)
        # The current queue always holds a fresh low and a fresh medium incident, so that the
        # business-hours clocks show on the queue, whatever the hour of seeding.
        for severity, title in (
            (Severity.MEDIUM, "Report export on {service} takes minutes"),
            (Severity.LOW, "Typo on the {service} status page"),
        ):
            service = rng.choice(ctx.services)
            incident = services.incident_create(
                by=rng.choice(desk), title=title.format(service=service.name), service=service,
                severity=severity, detected_at=now - timedelta(minutes=25), started_at=now - timedelta(minutes=40),
                description=f"Reported by users of {service.name}.",
            )
            work.logged(incident, now - timedelta(minutes=25), rng.choice(desk), routine=severity == Severity.LOW)
            services.incident_transition(instance=incident, name="acknowledge", by=rng.choice(desk),
                                         at=now - timedelta(minutes=10))
            counts["responding"] = counts.get("responding", 0) + 1
        seed_desk_work(ctx, work)
        counts["responding"] = counts.get("responding", 0) + 1
        counts["on_hold"] = counts.get("on_hold", 0) + 1
        counts["detected"] = counts.get("detected", 0) + 2
        majors = seed_major_incidents(ctx)
        counts["closed"] = counts.get("closed", 0) + 1  # the reviewed major incident
        counts["responding"] = counts.get("responding", 0) + 1  # the one in progress
        swept = services.sla_sweep(now=now)

    states = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    breaches = swept["response_breached"] + swept["resolution_breached"]
    total = sum(counts.values())
    counted_in = ", ".join(f"{severity} in {name}" for severity, name in calendar_names.items())
    return (
        f"{total} incidents ({states}), {notes} notes, {breaches} SLA breaches flagged, "
        f"{majors} major incidents, {work.items} action items, {swept['follow_up_breached']} follow-ups overdue; "
        f"SLA calendars: {counted_in}"
    )


# First-line work of the Service Desk team itself: the desk user's own queue ("My work").
DESK_WORK = (
    (55, Severity.HIGH, "VPN logins fail for remote staff", True, True),
    (40, Severity.MEDIUM, "Shared mailbox not syncing for the finance team", True, True),
    (18, Severity.LOW, "New starter cannot print to the office printers", True, False),
    (9, Severity.MEDIUM, "Laptop encryption prompt loops after the update", False, False),
)


def seed_desk_work(ctx, work) -> None:
    """A few incidents of the desk's own team, most assigned to the ``desk`` user, one left
    unassigned for the team: the desk's My work is never empty in the demo."""
    desk = ctx.user(Role.SERVICE_DESK)
    team = next((team for team in ctx.teams if team.members.filter(pk=desk.pk).exists()), None)
    if team is None:
        return
    for minutes, severity, title, assigned, acknowledged in DESK_WORK:
        detected = ctx.now - timedelta(minutes=minutes)
        service = ctx.rng.choice(ctx.services)
        incident = services.incident_create(
            by=desk, title=title, service=service, severity=severity, team=team,
            assignee=desk if assigned else None, detected_at=detected, at=detected,
            started_at=detected - timedelta(minutes=5), description="Reported to the service desk by phone.",
        )
        work.logged(incident, detected, desk, routine=severity == Severity.LOW)
        if acknowledged:
            incident = services.incident_transition(instance=incident, name="acknowledge", by=desk,
                                                    at=detected + timedelta(minutes=4))
        if severity == Severity.MEDIUM and acknowledged:  # waiting for the mail provider: on hold
            services.incident_transition(instance=incident, name="hold", by=ctx.user(Role.INCIDENT_MANAGERS),
                                         at=detected + timedelta(minutes=15), comment="Waiting for the mail provider.")


# --- the incident process (§2.1) ------------------------------------------------------------

STAKEHOLDERS = {
    "payments-api": ["ecommerce-lead", "customer-care"],
    "customer-portal": ["customer-care", "marketing-ops"],
}
ACTION_ITEMS = [
    "Add an alert before the limit is reached",
    "Write the runbook for this failure",
    "Automate the certificate renewal check",
    "Load-test the service after the fix",
    "Review the configuration change process",
    "Add a health check to the deployment pipeline",
]


def give_services_stakeholders(ctx) -> None:
    """The critical customer-facing services tell their business stakeholders (an admin edit)."""
    from opsdesk.demo import DEMO_EMAIL_DOMAIN
    from opsdesk.models import Service

    for slug, people in STAKEHOLDERS.items():
        Service.objects.filter(slug=slug).update(
            stakeholder_emails=", ".join(f"{person}@{DEMO_EMAIL_DOMAIN}" for person in people)
        )


class ProcessWork:
    """People working each demo incident's checklist at realistic moments (never after "now")."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.rng = ctx.rng
        self.items = 0

    def _done(self, incident, key, by, at, note=""):
        from . import steps

        if at < self.ctx.now:
            steps.step_complete(incident=incident, key=key, by=by, note=note, at=at)

    def logged(self, incident, detected_at, responder, *, routine: bool) -> None:
        from django.utils import timezone

        from . import steps
        from .choices import StepKey

        # The history is replayed without mail: the team's notification (at once, or in the next
        # morning's digest for routine incidents) is recorded as the outbox would have seen it.
        notified = detected_at
        if routine:
            local = timezone.localtime(detected_at)
            notified = local.replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1)
        if incident.team_id and notified < self.ctx.now:
            steps.observe(incident.pk, [StepKey.TEAM_NOTIFICATION], at=notified)
        if self.rng.random() < 0.75:
            self._done(incident, StepKey.INITIAL_ASSESSMENT, responder,
                       detected_at + _between(self.rng, timedelta(minutes=2), timedelta(minutes=12)))

    def acknowledged(self, incident, at, responder) -> None:
        from .choices import StepKey

        if self.rng.random() < 0.6:
            self._done(incident, StepKey.IMPACT_ANALYSIS, responder,
                       at + _between(self.rng, timedelta(minutes=5), timedelta(minutes=30)),
                       note=self.rng.choice(["Only EU customers affected.", "Internal users only.", ""]))
        if self.rng.random() < 0.4:
            self._done(incident, StepKey.CONTAINMENT_MEASURES, responder,
                       at + _between(self.rng, timedelta(minutes=10), timedelta(minutes=45)))

    def before_resolve(self, incident, at, responder) -> None:
        from .choices import StepKey

        if self.rng.random() < 0.6:
            self._done(incident, StepKey.VERIFICATION_TESTING, responder, at - timedelta(minutes=3),
                       note="Smoke tests green.")

    def before_close(self, incident, at, manager, members) -> None:
        from . import review, steps
        from .choices import StepKey, StepState
        from .models import IncidentStep

        rng = self.rng
        pending = set(
            IncidentStep.objects.filter(incident=incident, state=StepState.PENDING).values_list("key", flat=True)
        )
        if StepKey.TEAM_NOTIFICATION in pending:  # closed before the digest: told by phone
            steps.step_complete(incident=incident, key=StepKey.TEAM_NOTIFICATION, by=manager,
                                note="Told the team on the phone.", at=at - timedelta(minutes=30))
        if not incident.confidential and members and rng.random() < 0.25:
            for title in rng.sample(ACTION_ITEMS, rng.randint(1, 2)):
                created = at - timedelta(minutes=20)
                item = review.action_item_create(
                    incident=incident, by=manager, title=title, owner=rng.choice(members),
                    due_date=(created + timedelta(days=rng.randint(5, 21))).date(), at=created,
                )
                self.items += 1
                finished = created + timedelta(days=rng.randint(2, 25))
                if finished < self.ctx.now and rng.random() < 0.6:
                    review.action_item_complete(item=item, by=item.owner, note="Done.", at=finished)
        roll = rng.random()
        if StepKey.PROCESS_IMPROVEMENT in pending:
            if roll < 0.3:
                steps.step_complete(incident=incident, key=StepKey.PROCESS_IMPROVEMENT, by=manager,
                                    note="Runbook updated.", at=at - timedelta(minutes=10))
            elif roll < 0.7:
                steps.step_skip(incident=incident, key=StepKey.PROCESS_IMPROVEMENT, by=manager,
                                reason="The process worked; nothing to change.", at=at - timedelta(minutes=10))
        if StepKey.STAKEHOLDER_COMMUNICATION in pending and rng.random() < 0.3:
            steps.step_skip(incident=incident, key=StepKey.STAKEHOLDER_COMMUNICATION, by=manager,
                            reason="No customer impact to report.", at=at - timedelta(minutes=10))


def seed_major_incidents(ctx) -> int:
    """A closed major incident with its status updates and review (one action item raised as a
    change), and one major incident still being worked, so the banner shows."""
    from automation.incident_changes import action_item_raise_change
    from opsdesk.models import Service

    from . import major, review, steps
    from .choices import StatusAudience, StepKey

    now = ctx.now
    manager = ctx.user(Role.INCIDENT_MANAGERS)
    desk = ctx.user(Role.SERVICE_DESK)
    change_manager = ctx.user(Role.CHANGE_MANAGERS)
    payments = Service.objects.select_related("owner_team").get(slug="payments-api")
    members = list(payments.owner_team.members.order_by("username")) if payments.owner_team else [manager]

    # 1. Last week's card-payment outage, reviewed and closed.
    detected = (now - timedelta(days=9)).replace(hour=14, minute=5, second=0, microsecond=0)
    incident = services.incident_create(
        by=manager, title="Card payments fail for all customers", service=payments, severity=Severity.CRITICAL,
        description="Checkout answers 'payment declined' for every card payment; SEPA is unaffected.",
        detected_at=detected, started_at=detected - timedelta(minutes=7), at=detected, customers_affected=4200,
        caller_name="Grace Miller", caller_email="grace.miller@example.com", major=True,
        assignee=members[0],
    )
    steps.observe(incident.pk, [StepKey.TEAM_NOTIFICATION], at=detected)
    steps.step_complete(incident=incident, key=StepKey.INITIAL_ASSESSMENT, by=desk, at=detected + timedelta(minutes=3),
                        note="Every card payment fails since 13:58; gateway answers TLS handshake errors.")
    incident = services.incident_transition(instance=incident, name="acknowledge", by=desk,
                                            at=detected + timedelta(minutes=6), comment="Payments team on the bridge.")
    timeline = [
        (10, StatusAudience.STAKEHOLDERS, "Card payments are failing for all customers. We are investigating; "
                                           "next update in 30 minutes."),
        (25, StatusAudience.INTERNAL, "Gateway rejects our TLS client certificate since the 13:55 config push."),
        (40, StatusAudience.STAKEHOLDERS, "Cause found (a configuration change at the payment gateway "
                                           "connection). Rolling it back now."),
        (70, StatusAudience.STAKEHOLDERS, "Card payments work again since 15:12. We keep watching."),
    ]
    for minutes, audience, body in timeline:
        major.status_update_add(incident=incident, by=manager, body=body, audience=audience,
                                at=detected + timedelta(minutes=minutes))
    for key, minutes, note in ((StepKey.IMPACT_ANALYSIS, 15, "All card payments, about 4,200 customers."),
                               (StepKey.CONTAINMENT_MEASURES, 30, "Shops switched to 'SEPA only' banner."),
                               (StepKey.VERIFICATION_TESTING, 66, "Test payments with three card brands pass.")):
        steps.step_complete(incident=incident, key=key, by=members[0], note=note,
                            at=detected + timedelta(minutes=minutes))
    incident = services.incident_transition(
        instance=incident, name="resolve", by=members[0], at=detected + timedelta(minutes=68),
        resolution_summary="Rolled back the gateway connection configuration; payments flow again.",
    )
    reviewed = detected + timedelta(hours=20)
    alerting = review.action_item_create(
        incident=incident, by=manager, title="Alert on the card payment error rate", owner=members[-1],
        due_date=(reviewed + timedelta(days=3)).date(), at=reviewed,
    )
    review.action_item_complete(item=alerting, by=members[-1], note="Alert at 2 % errors over 5 minutes.",
                                at=reviewed + timedelta(days=2))
    pipeline = review.action_item_create(
        incident=incident, by=manager, title="Deploy gateway configuration only through the reviewed pipeline",
        owner=members[0], due_date=(now + timedelta(days=10)).date(), at=reviewed,
    )
    review.action_item_create(
        incident=incident, by=manager, title="Rehearse the payment gateway failover", owner=members[-1],
        due_date=(reviewed + timedelta(days=6)).date(), at=reviewed,
    )
    action_item_raise_change(item=pipeline, by=change_manager)
    steps.step_complete(incident=incident, key=StepKey.PROCESS_IMPROVEMENT, by=manager, at=reviewed,
                        note="Configuration pushes to the gateway now need a second pair of eyes.")
    services.incident_transition(
        instance=incident, name="close", by=manager, at=reviewed + timedelta(minutes=30),
        root_cause="An unreviewed configuration push replaced the gateway's client certificate.",
        lessons_learned="Gateway configuration is production code: review it and alert on payment errors.",
        preventive_measures="Reviewed pipeline for gateway configuration; error-rate alert.",
    )

    # 2. The portal is down right now: a major incident in progress (the banner on every page).
    portal = Service.objects.get(slug="customer-portal")
    detected = now - timedelta(minutes=50)
    current = services.incident_create(
        by=desk, title="Customer portal login page times out", service=portal, severity=Severity.CRITICAL,
        description="Customers cannot log in; the login page times out after 30 s.",
        detected_at=detected, started_at=detected - timedelta(minutes=4), at=detected, customers_affected=900,
        caller_name="Customer care hotline", caller_email="customer-care@example.com",
    )
    steps.observe(current.pk, [StepKey.TEAM_NOTIFICATION], at=detected)
    major.incident_declare_major(incident=current, by=manager, at=detected + timedelta(minutes=5),
                                 comment="Every customer is locked out.")
    current = services.incident_transition(instance=current, name="acknowledge", by=desk,
                                           at=detected + timedelta(minutes=7))
    major.status_update_add(
        incident=current, by=manager, audience=StatusAudience.STAKEHOLDERS, at=detected + timedelta(minutes=12),
        body="Customers cannot log in to the portal. The applications team is on it; next update in 30 minutes.",
    )
    return 2


SURVEY_COMMENTS = {
    1: ["Nobody told us anything for hours.", "Took far too long, and it came back the next day."],
    2: ["Slow to respond, but fixed in the end.", "We had to chase the desk twice."],
    3: ["Fixed, though the updates could have been clearer.", "OK."],
    4: ["Quick fix, thanks.", "Good communication throughout."],
    5: ["Excellent, fixed before our customers noticed.", "Very fast and friendly, thank you!"],
}


def seed_surveys(ctx) -> str:
    """Satisfaction surveys for the resolved demo incidents, as if sent on resolution (seeding mutes
    the outbox), about two in three answered; resolution breaches lower the rating, and the answers about
    the first service slide over the last 30 days, so the metrics and the insights have a story to tell."""
    from .models import Incident, SatisfactionSurvey, SurveyAnswer

    rng = ctx.rng
    slipping = ctx.services[0].pk if ctx.services else None
    recent = ctx.now - timedelta(days=30)
    surveys, answers = [], []
    rows = (
        Incident.objects.filter(resolved_at__isnull=False, resolved_at__lte=ctx.now, survey__isnull=True)
        .select_related("reporter")
        .order_by("resolved_at")
    )
    for incident in rows:
        recipient = incident.caller_email or (incident.reporter.email if incident.reporter else "")
        if incident.confidential:
            recipient = incident.reporter.email if incident.reporter else ""
        if not recipient:
            continue
        surveys.append(SatisfactionSurvey(incident=incident, recipient=recipient, sent_at=incident.resolved_at))
    SatisfactionSurvey.objects.bulk_create(surveys)
    for survey in SatisfactionSurvey.objects.filter(answer__isnull=True).select_related("incident"):
        incident = survey.incident
        answered_at = survey.sent_at + timedelta(hours=rng.uniform(0.5, 72))
        if answered_at > ctx.now or rng.random() > 0.65:
            continue
        rating = rng.choices([5, 4, 3, 2, 1], [40, 35, 15, 7, 3])[0]
        if incident.resolution_breached:
            rating -= rng.choice([1, 2])
        if incident.service_id == slipping and survey.sent_at >= recent:
            rating -= 2
        rating = max(1, min(5, rating))
        comment = rng.choice(SURVEY_COMMENTS[rating]) if rng.random() < 0.5 else ""
        answers.append(SurveyAnswer(survey=survey, rating=rating, comment=comment, answered_at=answered_at))
    SurveyAnswer.objects.bulk_create(answers)
    return f"{len(surveys)} satisfaction surveys, {len(answers)} answered"
