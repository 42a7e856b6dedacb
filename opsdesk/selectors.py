"""Reads of the kernel: the desk's front-page figures."""

from __future__ import annotations

from django.db.models import Count, Q


def desk_summary() -> dict[str, int]:
    """Counts for the home page, one aggregate query per process (no rows are named)."""
    from changes.choices import ChangeState
    from changes.models import ChangeRequest
    from incidents.choices import OPEN_STATES
    from incidents.models import Incident
    from releases.choices import ReleaseState
    from releases.models import Release

    incidents = Incident.objects.aggregate(
        open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        breached=Count(
            "pk",
            filter=Q(state__in=OPEN_STATES) & (Q(response_breached=True) | Q(resolution_breached=True)),
        ),
    )
    changes = ChangeRequest.objects.aggregate(
        awaiting_approval=Count("pk", filter=Q(state=ChangeState.SUBMITTED)),
        in_progress=Count("pk", filter=Q(state__in=[ChangeState.IN_PROGRESS, ChangeState.VERIFYING])),
    )
    releases = Release.objects.aggregate(
        active=Count(
            "pk",
            filter=~Q(state__in=[ReleaseState.COMPLETED, ReleaseState.FAILED,
                                 ReleaseState.ROLLED_BACK, ReleaseState.CANCELLED]),
        )
    )
    return {
        "open_incidents": incidents["open"],
        "breached_incidents": incidents["breached"],
        "changes_awaiting_approval": changes["awaiting_approval"],
        "changes_in_progress": changes["in_progress"],
        "active_releases": releases["active"],
    }
