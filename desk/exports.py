"""CSV exports of the incident, change and release lists: the list's FilterSet on the rows the
user may see, one query (many-to-many columns aggregated in it), streamed."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from changes.models import ChangeRequest
from opsdesk.exports import CHUNK_SIZE, JoinedNames, csv_response
from releases.models import Release

from .records import CHANGES, INCIDENTS, RELEASES, RecordType


def _service_names(through, owner_column: str) -> Subquery:
    return Subquery(
        through.objects.filter(**{owner_column: OuterRef("pk")}).order_by().values(owner_column)
        .annotate(names=JoinedNames("service__name")).values("names")
    )


# The columns of each export: header (the SPEC's field names) and the value read for it.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    INCIDENTS.key: [
        ("number", "number"), ("title", "title"), ("state", "state"), ("severity", "severity"),
        ("service", "service__name"), ("team", "team__name"), ("assignee", "assignee__username"),
        ("reporter", "reporter__username"), ("started_at", "started_at"), ("detected_at", "detected_at"),
        ("acknowledged_at", "acknowledged_at"), ("resolved_at", "resolved_at"), ("closed_at", "closed_at"),
        ("response_due", "response_due"), ("resolution_due", "resolution_due"),
        ("response_breached", "response_breached"), ("resolution_breached", "resolution_breached"),
        ("escalation_level", "escalation_level"), ("customers_affected", "customers_affected"),
        ("major", "major"), ("confidential", "confidential"),
    ],
    CHANGES.key: [
        ("number", "number"), ("title", "title"), ("state", "state"), ("change_type", "change_type"),
        ("risk", "risk"), ("risk_score", "risk_score"), ("services", "export_services"),
        ("implementer", "implementer__name"), ("requester", "requester__username"),
        ("planned_start", "planned_start"), ("planned_end", "planned_end"), ("actual_start", "actual_start"),
        ("actual_end", "actual_end"), ("submitted_at", "submitted_at"), ("approved_at", "approved_at"),
        ("release", "release__number"),
    ],
    RELEASES.key: [
        ("number", "number"), ("name", "name"), ("version", "version"), ("state", "state"),
        ("services", "export_services"), ("release_manager", "release_manager__username"),
        ("planned_date", "planned_date"), ("created_at", "created_at"), ("completed_at", "completed_at"),
    ],
}

_ANNOTATIONS = {
    CHANGES.key: lambda: {"export_services": _service_names(ChangeRequest.services.through, "changerequest_id")},
    RELEASES.key: lambda: {"export_services": _service_names(Release.services.through, "release_id")},
}


def export_rows(record_type: RecordType, *, user, params, request=None) -> QuerySet:
    """The rows of the export: what the list shows with these filters (``params``), as value tuples."""
    filterset = record_type.filterset(params or None, queryset=record_type.visible(user), request=request)
    rows = filterset.qs if filterset.is_bound else filterset.queryset
    annotations = _ANNOTATIONS.get(record_type.key)
    if annotations is not None:
        rows = rows.annotate(**annotations())
    return rows.values_list(*(source for _, source in COLUMNS[record_type.key]))


def export_response(record_type: RecordType, *, user, params, request=None):
    """The streamed CSV download of a list (``incidents-2026-12-02.csv``)."""
    rows = export_rows(record_type, user=user, params=params, request=request)
    header = [name for name, _ in COLUMNS[record_type.key]]
    filename = f"{record_type.key}-{timezone.localdate():%Y-%m-%d}.csv"
    return csv_response(filename, header, rows.iterator(chunk_size=CHUNK_SIZE))
