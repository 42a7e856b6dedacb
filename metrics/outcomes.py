"""The sources of the satisfaction and automation metrics (§5), one aggregate query each.

Registered in ``metrics.definitions.SOURCES`` like every other source, so the
summary, the CSV, the time series, the snapshots, the dashboard and the report
carry them. Kept apart from the process metrics' sources on purpose: they read
the survey and automation tables only.
"""

from __future__ import annotations

from django.db.models import Avg, Count, Q, Subquery

from automation.choices import RunOutcome
from automation.models import AutomationRun
from incidents.models import SatisfactionSurvey


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def surveys(window, filters, keys: set[str]) -> dict:
    """CSAT: the surveys of the incidents resolved in the period (and matching the filters); one query."""
    from .definitions import _incident_rows

    resolved = _incident_rows(filters).filter(window.contains("resolved_at"))
    figures = SatisfactionSurvey.objects.filter(incident__in=Subquery(resolved.values("pk"))).aggregate(
        sent=Count("pk"), answered=Count("answer"), score=Avg("answer__rating"),
    )
    score = figures["score"]
    return {
        "incidents.csat_score": float(score) if score is not None else None,
        "incidents.csat_response_rate": _share(figures["answered"], figures["sent"]),
    }


def _by_rule(rows) -> dict:
    return rows.aggregate(total=Count("pk"), automated=Count("pk", filter=Q(created_by_rule__gt="")))


def automation(window, filters, keys: set[str], *, incidents: tuple[int, int] | None = None) -> dict:
    """Automation level (one count per kind of record: incidents, changes, releases) and runs (one count).

    "Created in the period": an incident by its ``detected_at`` (when it was logged: incidents have no other
    creation time), a change or release by its ``created_at``. The service filter applies to all three; with a
    team or severity filter only incidents count (changes and releases have neither); ``automation.runs`` is
    not filtered (a run's subject may be an alert or a
    deployment, which have no team). ``incidents``: the incidents' (total, automated) when already known
    (from the rollups), instead of counting them here.
    """
    from .definitions import _change_rows, _incident_rows, _release_rows

    figures = {"total": 0, "automated": 0}
    want_level = "automation.level" in keys
    if want_level:
        if incidents is not None:
            counts = [{"total": incidents[0], "automated": incidents[1]}]
        else:
            counts = [_by_rule(_incident_rows(filters).filter(window.contains("detected_at")))]
        if not filters.team and not filters.severity:  # changes and releases have neither
            counts.append(_by_rule(_change_rows(filters).filter(window.contains("created_at"))))
            counts.append(_by_rule(_release_rows(filters).filter(window.contains("created_at"))))
        for count in counts:
            figures["total"] += count["total"]
            figures["automated"] += count["automated"]
    runs = 0
    if "automation.runs" in keys:
        runs = AutomationRun.objects.filter(window.contains("created_at"), outcome=RunOutcome.ACTED).count()
    return {
        "automation.level": _share(figures["automated"], figures["total"]) if want_level else None,
        "automation.runs": runs,
    }

