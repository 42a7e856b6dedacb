"""Demo releases: about 40 releases over the last 90 days, in every state, built with the
real services (gates, deliverables, checks, deployments, failed deployment → incident).

``changes.demo`` runs first: its approved changes already created planning releases
through ``release_for_approved_change``; some of those are moved forward here. Times
are passed explicitly (``at=``, ``created_at``, deployment times); no time travel.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied

from changes.choices import OUTCOME_STATES, ChangeState
from opsdesk.choices import Role
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.workflow import transition_history

from . import services
from .choices import GATE_DELIVERABLES, PIPELINE, CheckKind, DeliverableKind, ReleaseState
from .models import Deployment, Release, ReleaseDeliverable

TARGET_TOTAL = 40
# How far each new release gets, in order of creation (oldest first).
NEW_RELEASE_TARGETS = (
    [ReleaseState.COMPLETED] * 8
    + [ReleaseState.FAILED, ReleaseState.CANCELLED, ReleaseState.ROLLED_BACK]
    + [ReleaseState.COMPLETED] * 8
    + [ReleaseState.FAILED, ReleaseState.CANCELLED, ReleaseState.ROLLED_BACK]
    + [ReleaseState.COMPLETED] * 4
    + [ReleaseState.CANCELLED]
    + [ReleaseState.VERIFICATION] * 3
    + [ReleaseState.IMPLEMENTATION] * 3
    + [ReleaseState.PREPARATION] * 4
    + [ReleaseState.PLANNING] * 4
)
# When the change releases already fill most of the demo, the new ones still show every end state.
FEW_NEW_RELEASE_TARGETS = [
    ReleaseState.COMPLETED, ReleaseState.FAILED, ReleaseState.COMPLETED, ReleaseState.CANCELLED,
    ReleaseState.ROLLED_BACK, ReleaseState.COMPLETED, ReleaseState.FAILED, ReleaseState.CANCELLED,
    ReleaseState.ROLLED_BACK, ReleaseState.VERIFICATION, ReleaseState.IMPLEMENTATION, ReleaseState.PLANNING,
]
GATE_ORDER = ["prepare", "implement", "verify", "complete"]
NAMES = [
    "Checkout revamp", "Ledger sync", "Search relevance", "Mobile login", "Invoice PDFs", "SSO rollout",
    "Catalogue import", "Rate limiter", "Audit trail", "Push notifications", "Data retention", "Kafka upgrade",
    "Postgres 17", "Dark mode", "Fraud rules", "Partner API v2", "Reporting cube", "Cache tier", "GDPR export",
    "Onboarding flow", "Pricing engine", "Warehouse feed", "Status page", "TLS rotation",
]
DELIVERABLE_TEXT = {
    DeliverableKind.RELEASE_PLAN: "Scope, owners and go/no-go criteria agreed with the service owners.",
    DeliverableKind.TIMELINE: "Freeze T-3 days, staging T-2, production window Tuesday 06:00-08:00 UTC.",
    DeliverableKind.RESOURCE_PLAN: "Two engineers from the owning team on call, DBA on standby.",
    DeliverableKind.RELEASE_PACKAGE: "Artefacts built and signed; checksums in the release ticket.",
    DeliverableKind.TEST_PLANS: "Regression suite, smoke tests in staging, load test at 2x peak.",
    DeliverableKind.ROLLBACK_PLAN: "Redeploy the previous image tag; migrations are backwards compatible.",
    DeliverableKind.DEPLOYMENT_REPORT: "Deployed to staging and production; no errors in the first hour.",
    DeliverableKind.TEST_RESULTS: "All regression and smoke tests green; p95 latency unchanged.",
    DeliverableKind.STATUS_UPDATES: "Stakeholders informed on the status page and in the weekly ops mail.",
}


class _Stop(Exception):
    """A gate did not hold for demo data (e.g. a linked change never got approved): stop advancing."""


def _guard(at, now):
    """History only: never record anything at or after the demo's "now"."""
    if at >= now - timedelta(minutes=5):
        raise _Stop("reached the present")


def _deliver(release, gate, by, at, rng, now):
    have = set(ReleaseDeliverable.objects.filter(release=release).values_list("kind", flat=True))
    for kind in GATE_DELIVERABLES[gate]:
        if kind in have:
            continue
        at = at + timedelta(minutes=rng.randint(20, 240))
        _guard(at, now)
        if rng.random() < 0.3:
            services.deliverable_add(release=release, by=by, kind=kind,
                                     link=f"https://wiki.opsdesk.example/releases/{release.number}/{kind}", at=at)
        else:
            services.deliverable_add(release=release, by=by, kind=kind, content=DELIVERABLE_TEXT[kind], at=at)
    return at


def _move(release, name, by, at, now, comment=""):
    _guard(at, now)
    try:
        return services.release_transition(instance=release, name=name, by=by, at=at, comment=comment)
    except (TransitionNotAllowed, ConcurrentUpdate, DomainValidationError) as exc:
        raise _Stop(str(exc)) from exc


def _resolve(incident, resolver, at, now):
    """Resolve a deployment incident a little later (if that moment has passed)."""
    from incidents.services import incident_transition

    if resolver is None or at >= now:
        return
    try:
        incident_transition(instance=incident, name="resolve", by=resolver, at=at,
                            resolution_summary="Rolled back to the previous version; deployment retried later.")
    except (TransitionNotAllowed, DomainValidationError, PermissionDenied):
        return  # e.g. the incident was already handled; the demo goes on


def _deploy(release, by, env, start, *, fail, now, resolver, rng):
    finished = start + timedelta(minutes=rng.randint(8, 45))
    _guard(finished, now)
    deployment = services.deployment_create(
        release=release, by=by, environment=env, started_at=start, finished_at=finished,
        status="failed" if fail else "succeeded",
    )
    if fail and deployment.incident is not None:
        _resolve(deployment.incident, resolver, finished + timedelta(minutes=rng.randint(30, 200)), now)
    return finished


def _advance(release, target, *, by, start, now, rng, resolver) -> tuple[int, int]:
    """Walk ``release`` towards ``target`` from ``start``; returns (deployments, failed deployments)."""
    step = max((now - start) / 9, timedelta(minutes=2))  # a recent release moves in small steps
    step = min(step, timedelta(days=2))
    at = start
    deployments = failed = 0
    if target == ReleaseState.CANCELLED:
        if rng.random() < 0.5:
            at = _deliver(release, "prepare", by, at, rng, now) + step
            _move(release, "prepare", by, at, now)
        _move(release, "cancel", by, at + step, now, comment="Scope merged into a later release.")
        return 0, 0
    exit_failure = target in (ReleaseState.FAILED, ReleaseState.ROLLED_BACK)
    for gate in GATE_ORDER:
        if release.state == target:
            break
        if PIPELINE.index(release.state) > GATE_ORDER.index(gate):
            continue  # this gate was passed earlier (a release cut from the train)
        if gate == "verify":
            at += step / 2
            at = _deploy(release, by, "staging", at, fail=False, now=now, resolver=resolver, rng=rng)
            deployments += 1
            production_fails = exit_failure or rng.random() < 0.2
            at = _deploy(release, by, "production", at + step / 3, fail=production_fails, now=now,
                         resolver=resolver, rng=rng)
            deployments += 1
            failed += production_fails
            if exit_failure:
                break
            if production_fails:  # fixed and redeployed
                at = _deploy(release, by, "production", at + step / 2, fail=False, now=now, resolver=resolver,
                             rng=rng)
                deployments += 1
        at = _deliver(release, gate, by, at, rng, now)
        if gate == "complete":
            for kind in CheckKind:
                at += timedelta(minutes=rng.randint(15, 120))
                _guard(at, now)
                passed_first = rng.random() > 0.1
                services.check_record(release=release, by=by, kind=kind, passed=passed_first, at=at,
                                      note="" if passed_first else "Findings raised; fixed and re-checked.")
                if not passed_first:
                    at += timedelta(hours=rng.randint(2, 8))
                    _guard(at, now)
                    services.check_record(release=release, by=by, kind=kind, passed=True, at=at,
                                          note="Re-checked after fixes.")
        at += step
        release = _move(release, gate, by, at, now)
    if exit_failure:
        at += step / 2
        name = "fail" if target == ReleaseState.FAILED else "roll_back"
        _move(release, name, by, at, now, comment="Production deployment failed; the release is withdrawn.")
    return deployments, failed


# Change states in which the work has begun (or ended): their release cannot still be planning.
STARTED_CHANGE_STATES = (ChangeState.IN_PROGRESS, ChangeState.VERIFYING, *OUTCOME_STATES)


def cut_release_train(*, for_services, at, ctx) -> int:
    """Demo release train, called by the changes demo before an approval at ``at``.

    A planning release of these services that has collected changes for ten days
    or more gets a manager, its planning deliverables and moves to preparation just
    before ``at``, so the approval starts (or joins) a fresh planning release.
    Returns how many releases were cut.
    """
    managers = ctx.users.get(Role.RELEASE_MANAGERS) or [ctx.admin]
    due = (
        Release.objects.filter(state=ReleaseState.PLANNING, services__in=for_services, changes__isnull=False,
                               created_at__lt=at - timedelta(days=10))
        .distinct()
        .order_by("created_at")
    )
    cut = 0
    for release in due:
        manager = managers[release.pk % len(managers)]
        release = services.release_update(release=release, by=manager, release_manager=manager,
                                          planned_date=(at + timedelta(days=7)).date())
        try:
            done = _deliver(release, "prepare", manager, at - timedelta(hours=14), ctx.rng, ctx.now)
            _move(release, "prepare", manager, done + timedelta(minutes=30), ctx.now,
                  comment="Scope frozen: later changes go into the next release.")
        except _Stop:
            continue
        cut += 1
    return cut


def seed(ctx) -> str:
    """Create the demo releases (and move the changes demo's planning releases forward)."""
    managers = ctx.users.get(Role.RELEASE_MANAGERS) or [ctx.admin]
    resolvers = ctx.users.get(Role.INCIDENT_MANAGERS) or [None]
    rng, now = ctx.rng, ctx.now
    deployments = failed = moved = 0

    # Releases the approved changes created: give them managers and move some forward.
    from_changes = list(
        Release.objects.filter(state__in=[ReleaseState.PLANNING, ReleaseState.PREPARATION], changes__isnull=False)
        .distinct()
        .order_by("created_at")
    )
    for index, release in enumerate(from_changes):
        manager = release.release_manager or managers[index % len(managers)]
        release = services.release_update(release=release, by=manager, release_manager=manager,
                                          planned_date=release.planned_date or (release.created_at + timedelta(
                                              days=10)).date())
        # The release moves on once its last change has joined (approved).
        last_joined = max(
            [release.created_at, *(a for a in release.changes.values_list("approved_at", flat=True) if a),
             *transition_history(release).values_list("timestamp", flat=True)]
        )
        age = now - last_joined
        # A release whose changes are already being carried out is past planning (no change
        # runs, or ends, while its release is still being planned).
        started = set(release.changes.filter(state__in=STARTED_CHANGE_STATES).values_list("state", flat=True))
        if age < timedelta(days=2) and not started:
            continue  # still collecting changes: stays in planning
        if started and age <= timedelta(days=12):
            target = ReleaseState.VERIFICATION if started <= set(OUTCOME_STATES) else ReleaseState.IMPLEMENTATION
        else:
            target = ReleaseState.COMPLETED if age > timedelta(days=12) else rng.choice(
                [ReleaseState.PREPARATION, ReleaseState.IMPLEMENTATION, ReleaseState.VERIFICATION]
            )
        try:
            # Soon after the last change joined; before now when its changes already run.
            start = max(last_joined + timedelta(minutes=1), min(last_joined + timedelta(hours=2),
                                                                now - timedelta(minutes=30)))
            d, f = _advance(release, target, by=manager, start=start, now=now,
                            rng=rng, resolver=resolvers[0])
        except (_Stop, DomainValidationError):
            continue
        deployments, failed, moved = deployments + d, failed + f, moved + 1

    # New releases to reach about 40, spread over 90 days, oldest first.
    to_create = TARGET_TOTAL - Release.objects.count()
    if to_create > len(FEW_NEW_RELEASE_TARGETS):
        targets = list(NEW_RELEASE_TARGETS[-to_create:])
    else:
        targets = list(FEW_NEW_RELEASE_TARGETS)
    for index, target in enumerate(targets):
        days_ago = 88 - index * (84 / max(len(targets), 1))
        created = now - timedelta(days=days_ago, hours=rng.randint(0, 8))
        manager = managers[index % len(managers)]
        picked = rng.sample(ctx.services, k=min(len(ctx.services), rng.choice([1, 1, 2])))
        release = services.release_create(
            by=manager, name=NAMES[index % len(NAMES)], version=f"{1 + index // 8}.{index % 8}.0", services=picked,
            release_manager=manager, planned_date=(created + timedelta(days=rng.randint(7, 14))).date(),
            created_at=created,
        )
        if target == ReleaseState.PLANNING:
            continue
        try:
            d, f = _advance(release, target, by=manager, start=created + timedelta(hours=3), now=now, rng=rng,
                            resolver=resolvers[0])
        except (_Stop, DomainValidationError):
            continue
        deployments, failed = deployments + d, failed + f

    by_state = {state: Release.objects.filter(state=state).count() for state in ReleaseState}
    states = ", ".join(f"{count} {state}" for state, count in by_state.items() if count)
    return (
        f"{Release.objects.count()} releases ({states}); {moved} change releases moved forward; "
        f"{Deployment.objects.count()} deployments, {failed} failed → incidents"
    )
