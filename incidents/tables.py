"""The incident queue table (django-tables2). Every cell renders from the row itself: no queries."""

from __future__ import annotations

import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Case, Value, When
from django.template.loader import get_template
from django.utils import timezone

from .choices import Severity
from .models import Incident
from .selectors import sla_clocks, sla_state
from .templatetags.incident_tags import sla_summary

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
NOWRAP = {"td": {"class": "text-nowrap"}}


def page_size(value) -> int:
    """The page size asked for in ``?per_page=``, if it is one of ``PAGE_SIZES``."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def paginate(table, request, per_page: int) -> None:
    """Page ``table`` at ``per_page`` rows (``?page=``; past the end shows the last page)."""
    try:
        table.paginate(page=request.GET.get("page", 1), per_page=per_page)
    except PageNotAnInteger:
        table.paginate(page=1, per_page=per_page)
    except EmptyPage:
        table.paginate(page=table.paginator.num_pages, per_page=per_page)


class IncidentTable(tables.Table):
    """The service desk queue: newest first; each row's SLA clock in colour."""

    number = tables.Column(
        linkify=("incidents:detail", {"pk": tables.A("pk")}),
        verbose_name="Number",
        order_by=("id",),
        attrs={"td": {"class": "text-nowrap fw-semibold"}, "a": {"class": "text-decoration-none"}},
    )
    title = tables.TemplateColumn(template_name="incidents/partials/title_cell.html")
    severity = tables.TemplateColumn(template_name="incidents/partials/severity_cell.html", attrs=NOWRAP)
    state = tables.TemplateColumn(template_name="incidents/partials/state_cell.html", attrs=NOWRAP)
    service = tables.Column(order_by=("service__name",))
    team = tables.Column(order_by=("team__name",), default="—")
    assignee = tables.Column(
        order_by=("assignee__first_name", "assignee__username"), default="Unassigned", attrs=NOWRAP
    )
    detected_at = tables.DateTimeColumn(
        verbose_name="Detected", format="j M H:i", attrs={"td": {"class": "text-nowrap"}}
    )
    sla = tables.Column(
        verbose_name="SLA clock",
        empty_values=(),
        order_by=("resolution_due",),
        attrs={"td": {"class": "text-nowrap"}},
    )

    class Meta:
        model = Incident
        fields = ("number", "title", "severity", "state", "service", "team", "assignee", "detected_at", "sla")
        order_by = ("-detected_at",)
        attrs = {"class": "table table-hover table-sm align-middle incident-queue mb-0"}
        row_attrs = {"data-state": lambda record: record.state, "id": lambda record: f"incident-{record.pk}"}
        empty_text = "No incidents match these filters."

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self._sla_template = get_template("incidents/partials/sla_clock.html")
        self._clocks = None  # each severity's SLA clock, read once when the first row renders

    def render_assignee(self, value) -> str:
        return value.get_full_name() or value.username

    def order_severity(self, queryset, is_descending):
        """Critical → low (ascending), not alphabetical."""
        rank = Case(*(When(severity=value, then=Value(i)) for i, value in enumerate(Severity.values)))
        queryset = queryset.annotate(severity_rank=rank).order_by(
            ("-" if is_descending else "") + "severity_rank", "-detected_at"
        )
        return queryset, True

    def render_sla(self, record):
        if self._clocks is None:
            self._clocks = sla_clocks()
        summary = sla_summary(record, sla_state(record, now=self.now, clocks=self._clocks))
        return self._sla_template.render({"sla": summary, "compact": True})
