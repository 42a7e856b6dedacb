"""The phase gates of §4: what each release transition needs, named when missing.

``missing_for`` reads the release's deliverables, deployments, checks and changes
through ``release.<relation>.all()`` when a list page or endpoint prefetched them
(no query per row), and with small ``values_list`` queries otherwise (the
transition runner always re-reads the locked row, so a gate is never judged on
stale prefetched data when it matters).
"""

from __future__ import annotations

from changes.choices import ChangeState

from .choices import GATE_DELIVERABLES, CheckKind, DeliverableKind, DeploymentStatus

GATE_TRANSITIONS = tuple(GATE_DELIVERABLES)

# A linked change counts as approved in every state reached only through approval (so a
# change that later failed or was rolled back was still approved); cancelled changes are
# ignored; draft, submitted and rejected changes block the implement gate.
APPROVED_CHANGE_STATES = (
    ChangeState.APPROVED, ChangeState.IN_PROGRESS, ChangeState.VERIFYING, ChangeState.COMPLETED,
    ChangeState.FAILED, ChangeState.ROLLED_BACK,
)
IGNORED_CHANGE_STATES = (ChangeState.CANCELLED,)


def _prefetched(release, relation: str):
    """The prefetched rows of ``relation``, or None when they were not prefetched."""
    cache = getattr(release, "_prefetched_objects_cache", None) or {}
    if relation in cache:
        return list(getattr(release, relation).all())
    return None


def _deliverable_kinds(release) -> set[str]:
    rows = _prefetched(release, "deliverables")
    if rows is not None:
        return {row.kind for row in rows}
    return set(release.deliverables.values_list("kind", flat=True))


def _unapproved_change_numbers(release) -> list[str]:
    rows = _prefetched(release, "changes")
    if rows is not None:
        pairs = [(row.number, row.state) for row in rows]
    else:
        pairs = list(release.changes.values_list("number", "state"))
    skip = set(APPROVED_CHANGE_STATES) | set(IGNORED_CHANGE_STATES)
    return sorted(number for number, state in pairs if state not in skip)


def _has_succeeded_deployment(release) -> bool:
    rows = _prefetched(release, "deployments")
    if rows is not None:
        return any(row.status == DeploymentStatus.SUCCEEDED for row in rows)
    return release.deployments.filter(status=DeploymentStatus.SUCCEEDED).exists()


def _passed_checks(release) -> set[str]:
    rows = _prefetched(release, "checks")
    if rows is not None:
        return {row.kind for row in rows if row.passed}
    return set(release.checks.filter(passed=True).values_list("kind", flat=True))


def missing_for(release, transition: str) -> list[str]:
    """Human-readable list of what ``transition`` still needs; empty when the gate holds.

    Items read ``deliverable <kind>``, ``approval of change <CHG-…>``, ``a succeeded
    deployment`` and ``passed <check kind>``, in gate order.
    """
    missing = []
    needed = GATE_DELIVERABLES.get(transition, ())
    if needed:
        have = _deliverable_kinds(release)
        missing += [f"deliverable {kind.value}" for kind in needed if kind not in have]
    if transition == "implement":
        missing += [f"approval of change {number}" for number in _unapproved_change_numbers(release)]
    if transition == "verify" and not _has_succeeded_deployment(release):
        missing.append("a succeeded deployment")
    if transition == "complete":
        passed = _passed_checks(release)
        missing += [f"passed {kind.value}" for kind in CheckKind if kind not in passed]
    return missing


def missing_labels(items: list[str]) -> list[str]:
    """What a gate needs in words for screens: ``deliverable release_plan`` → ``release plan``,
    ``passed security_assessment`` → ``passed security assessment`` (the API keeps the codes)."""
    labels = {f"deliverable {kind.value}": kind.label.lower() for kind in DeliverableKind}
    labels.update({f"passed {kind.value}": f"passed {kind.label.lower()}" for kind in CheckKind})
    return [labels.get(item, item) for item in items]


def gate_status(release) -> dict[str, list[str]]:
    """``{transition: missing items}`` for every gate (prefetch the relations for lists)."""
    return {name: missing_for(release, name) for name in GATE_TRANSITIONS}
