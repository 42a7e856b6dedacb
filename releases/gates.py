"""The phase gates of §4: what each release transition needs, named when missing."""

from __future__ import annotations

from .choices import GATE_DELIVERABLES, CheckKind, DeploymentStatus


def missing_for(release, transition: str) -> list[str]:
    """Human-readable list of what ``transition`` still needs; empty when the gate holds."""
    from changes.choices import ChangeState

    missing = []
    needed = GATE_DELIVERABLES.get(transition, ())
    if needed:
        have = set(release.deliverables.values_list("kind", flat=True))
        missing += [f"deliverable {kind.value}" for kind in needed if kind not in have]
    if transition == "implement":
        unapproved = release.changes.exclude(
            state__in=[ChangeState.APPROVED, ChangeState.IN_PROGRESS, ChangeState.VERIFYING,
                       ChangeState.COMPLETED]
        ).exclude(state=ChangeState.CANCELLED)
        missing += [f"approval of change {number}" for number in unapproved.values_list("number", flat=True)]
    if transition == "verify":
        if not release.deployments.filter(status=DeploymentStatus.SUCCEEDED).exists():
            missing.append("a succeeded deployment")
    if transition == "complete":
        passed = set(release.checks.filter(passed=True).values_list("kind", flat=True))
        missing += [f"passed {kind.value}" for kind in CheckKind if kind not in passed]
    return missing
