"""The incident queue table (django-tables2).

django-tables2 keeps the columns, headers, sort links and pagination; the body's rows are
rendered in Python (``IncidentTable.rows_html``): the cell attributes once per page, each cell
an f-string over escaped values of the row and of what ``prepare_page`` computed once for the
page's rows (SLA summaries, who may take which quick action), badges and URLs written once. No
template node, accessor lookup or signature inspection per cell, no query per row; the markup
is django-tables2's (tests/incidents/test_queue.py renders both and compares).
"""

from __future__ import annotations

from functools import cached_property

import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django_tables2.templatetags.django_tables2 import table_page_range

from opsdesk.markup import conditional_escape, escape
from opsdesk.pagination import EstimatedPaginator
from opsdesk.templatetags.opsdesk_format import format_person, format_when, when_formatter

from .choices import OPEN_STATES, IncidentState, Severity
from .models import Incident
from .selectors import my_team_ids, order_by_urgency, queue_rows, sla_clocks, sla_state
from .templatetags.incident_tags import SEVERITY_CLASSES, STATE_CLASSES, sla_summary

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
# The queue counts exactly up to this many rows (a count over at most 10 001 ids of an index, a few ms
# at a million incidents); beyond, "about N", the planner's estimate (bench/NOTES.md).
QUEUE_COUNT_CAP = 10_000
# Shown from the md breakpoint up: a phone sees number, title, severity, state and SLA.
WIDE = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell"}}
WIDE_NOWRAP = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell text-nowrap"}}
CONFIDENTIAL_TITLE = "Confidential: visible to Incident Managers, its team and reporter"
CONFIDENTIAL_BADGE = format_html(' <span class="badge text-bg-dark" title="{}">Confidential</span>', CONFIDENTIAL_TITLE)
# The badge of each severity and state, written once.
SEVERITY_BADGES = {
    value: format_html('<span class="badge {}" data-severity="{}">{}</span>', SEVERITY_CLASSES[value], value, label)
    for value, label in Severity.choices
}
STATE_BADGES = {
    value: format_html('<span class="badge {}" data-state="{}">{}</span>', STATE_CLASSES[value], value, label)
    for value, label in IncidentState.choices
}


# django-tables2's bootstrap5 template around the header and the pages, whitespace included
# (``IncidentTable.thead_html``, ``pagination_html``; tests/incidents/test_queue.py compares).
_THEAD_GAP = "\n            "
_THEAD = (_THEAD_GAP + "\n                <thead {}>\n                <tr>\n                {}\n                </tr>\n"
          "                </thead>\n            " + _THEAD_GAP)
_TH = ('\n                    <th {} scope="col">\n                        \n                            {}\n'
       "                        \n                    </th>\n                ")
_PAGINATION_GAP = "\n        \n    "
_PAGINATION = ('\n        \n        <nav aria-label="Table navigation">\n'
               '            <ul class="pagination justify-content-center">\n            {}\n            {}\n'
               "            {}\n            </ul>\n        </nav>\n        \n    ")
_PREVIOUS = ('\n                \n                <li class="previous page-item">\n'
             '                    <a href="{}" class="page-link">\n'
             '                        <span aria-hidden="true">&laquo;</span>\n                        {}\n'
             "                    </a>\n                </li>\n                \n            ")
_RANGE = "\n            \n            {}\n            \n            "
_PAGE = ('\n                <li class="page-item{}">\n                    <a class="page-link" {}>\n'
         "                        {}\n                    </a>\n                </li>\n            ")
_NEXT = ('\n                \n                <li class="next page-item">\n'
         '                    <a href="{}" class="page-link">\n                        {}\n'
         '                        <span aria-hidden="true">&raquo;</span>\n                    </a>\n'
         "                </li>\n                \n            ")


def url_maker(name: str):
    """``pk → reverse(name, args=[pk])``, reversed once: the pk's place found from a sentinel."""
    sentinel = 987654321987654321
    head, _, tail = reverse(name, args=[sentinel]).partition(str(sentinel))
    return lambda pk: f"{head}{int(pk)}{tail}"


def page_size(value) -> int:
    """The page size asked for in ``?per_page=``, if it is one of ``PAGE_SIZES``."""
    try:
        size = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def paginate(table, request, per_page: int) -> None:
    """Page ``table`` at ``per_page`` rows (``?page=``; past the end shows the last page), without
    an exact COUNT of a long queue (``EstimatedPaginator``: "about N" beyond ``QUEUE_COUNT_CAP``
    rows); the page's ids in the table's order, then its rows (``queue_rows``: the columns the
    cells read, no model instances). The paginator reads the table's queryset in its sorted order
    itself: handed django-tables2's rows it would count them exactly and slice."""
    paginator = EstimatedPaginator(table.data.data, per_page, count_cap=QUEUE_COUNT_CAP, rows=queue_rows)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except PageNotAnInteger:
        page = paginator.page(1)
    except EmptyPage:
        page = paginator.page(paginator.num_pages)
    table.paginator, table.page = paginator, page


def prepare_page(rows, *, user, now) -> None:
    """Compute, once for a page of incidents, what each row shows: its SLA summary
    (``queue_sla``) and whether the user may assign it to themself (``can_take``).
    Two queries for the page, none per row."""
    clocks = sla_clocks()
    teams = set(my_team_ids(user))
    may_assign = user.has_perm("incidents.change_incident")
    for record in rows:
        record.queue_sla = sla_summary(record, sla_state(record, now=now, clocks=clocks))
        record.can_take = (
            may_assign and record.state in OPEN_STATES and record.assignee_id != user.pk
            and (record.team_id is None or record.team_id in teams)
        )


def _cell_attrs(column) -> str:
    """The attributes of ``column``'s ``<td>`` as django-tables2 writes them (``class`` sorted)."""
    return column.attrs["td"].as_html()


class IncidentTable(tables.Table):
    """The service desk queue: most urgent first; each row's SLA clock coloured by how much
    of its target is left; a box to select it for bulk actions; quick actions."""

    select = tables.Column(empty_values=(), orderable=False, verbose_name="", attrs=WIDE)
    number = tables.Column(
        verbose_name="Number",
        order_by=("id",),
        attrs={"td": {"class": "number text-nowrap fw-semibold"}},
    )
    title = tables.Column(order_by=("title",), attrs={"td": {"class": "title"}})
    severity = tables.Column(attrs={"td": {"class": "severity text-nowrap"}})
    state = tables.Column(attrs={"td": {"class": "state text-nowrap"}})
    assignee = tables.Column(
        order_by=("assignee__first_name", "assignee__username"), default="Unassigned", attrs=WIDE
    )
    detected_at = tables.Column(verbose_name="Detected", attrs=WIDE_NOWRAP)
    sla = tables.Column(
        verbose_name="SLA clock", empty_values=(), order_by=("urgency",), attrs={"td": {"class": "sla-cell"}}
    )
    actions = tables.Column(empty_values=(), orderable=False, verbose_name="", attrs=WIDE_NOWRAP)

    class Meta:
        model = Incident
        fields = ("select", "number", "title", "severity", "state", "assignee", "detected_at", "sla", "actions")
        attrs = {"class": "table table-hover table-sm align-middle incident-queue mb-0"}
        row_attrs = {"data-state": lambda record: record.state, "id": lambda record: f"incident-{record.pk}"}
        empty_text = "No incidents match these filters."
        # django-tables2's bootstrap5 markup; the body comes from ``rows_html``.
        template_name = "incidents/partials/queue_table.html"

    def __init__(self, *args, now=None, user=None, next_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.user = user
        self.next_url = next_url

    def prepare(self) -> None:
        """After paginating: the per-page computations of ``prepare_page``."""
        prepare_page(self.records(), user=self.user, now=self.now)

    def records(self) -> list:
        """The incidents of the current page (``paginate``'s page holds records, not bound rows)."""
        page = getattr(self, "page", None)
        if page is None:
            return [row.record for row in self.rows]
        return [getattr(row, "record", row) for row in page.object_list]

    def cell_renderers(self) -> dict:
        """Column name → the cell's HTML from a record: the ``render_*`` methods, and the
        column's default where django-tables2 would show it (an empty value)."""
        unassigned, undetected = self.columns["assignee"].default, self.columns["detected_at"].default
        when = when_formatter()  # ``render_detected_at``'s ``format_when``, the time zone read once
        return {
            "select": self.render_select,
            "number": self.render_number,
            "title": self.render_title,
            "severity": self.render_severity,
            "state": self.render_state,
            "assignee": lambda record: self.render_assignee(record.assignee) if record.assignee_id else unassigned,
            "detected_at": lambda record: when(record.detected_at) if record.detected_at else undetected,
            "sla": self.render_sla,
            "actions": self.render_actions,
        }

    def rows_html(self) -> SafeString:
        """The ``<tr>`` of every row of the page, as django-tables2's template writes them
        (``class="even|odd"`` after the row attributes, each ``<td>`` with its column's
        attributes), or the one row of ``empty_text``."""
        columns = list(self.columns)
        renderers = self.cell_renderers()
        cells = [(format_html("<td {}>", mark_safe(_cell_attrs(column))), renderers[column.name])  # noqa: S308
                 for column in columns]
        out = []
        for counter, record in enumerate(self.records()):
            out.append(f'<tr data-state="{escape(record.state)}" id="incident-{int(record.pk)}" '
                       f'class="{"odd" if counter % 2 else "even"}">')
            for opening, render in cells:
                out.append(opening)
                out.append(conditional_escape(render(record)))
                out.append("</td>")
            out.append("</tr>")
        if not out and self.empty_text:
            out.append(format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), self.empty_text))
        return mark_safe("".join(out))  # noqa: S308 - every part is escaped above

    def _querystring(self, key: str, value) -> str:
        """django-tables2's ``querystring_replace``: the request's query string, ``key`` set to ``value``."""
        params = dict(self.request.GET) if getattr(self, "request", None) is not None else {}
        params[key] = value
        return escape("?" + urlencode(params, doseq=True))

    def thead_html(self) -> SafeString:
        """The ``table.thead`` block of django-tables2's bootstrap5 template, whitespace included:
        each column's ``<th>`` and the link that sorts by it (the query string, ``sort`` replaced)."""
        if not self.show_header:
            return mark_safe(_THEAD_GAP * 2)  # noqa: S308 - constant
        sort = self.prefixed_order_by_field
        cells = []
        for column in self.columns:
            header = conditional_escape(column.header)
            if column.orderable:
                header = f'<a href="{self._querystring(sort, column.order_by_alias.next)}">{header}</a>'
            cells.append(_TH.format(column.attrs["th"].as_html(), header))
        thead = self.attrs.get("thead")
        return mark_safe(_THEAD.format(thead.as_html() if hasattr(thead, "as_html") else "", "".join(cells)))  # noqa: S308

    def pagination_html(self) -> SafeString:
        """The ``pagination`` block of django-tables2's bootstrap5 template, whitespace included."""
        page = getattr(self, "page", None)
        if not (page and self.paginator.num_pages > 1):
            return mark_safe(_PAGINATION_GAP)  # noqa: S308 - constant
        field = self.prefixed_page_field
        previous = _PREVIOUS.format(self._querystring(field, page.previous_page_number()),
                                    escape(gettext("previous"))) if page.has_previous() else ""
        numbers = ""
        if page.has_previous() or page.has_next():
            numbers = "".join(_PAGE.format(
                " active" if page.number == number else "",
                "" if number == "..." else f'href="{self._querystring(field, number)}"', conditional_escape(number),
            ) for number in table_page_range(page, self.paginator))
            numbers = _RANGE.format(numbers)
        following = _NEXT.format(self._querystring(field, page.next_page_number()), escape(gettext("next"))) \
            if page.has_next() else ""
        return mark_safe(_PAGINATION.format(previous, numbers, following))  # noqa: S308 - every value is escaped

    # Cells: f-strings over escaped values (``opsdesk.markup``, what Django's ``escape`` writes) and
    # URLs reversed once per table; the same markup ``format_html`` wrote, at a fraction of the cost.

    @cached_property
    def _detail_url(self):
        return url_maker("incidents:detail")

    @cached_property
    def _assign_url(self):
        return url_maker("incidents:assign-to-me")

    def render_select(self, record):
        return mark_safe(  # noqa: S308 - the number is escaped
            f'<input class="form-check-input bulk-select" type="checkbox" name="incident" value="{record.pk}" '
            f'form="bulk-form" aria-label="Select {escape(record.number)}">'
        )

    def render_number(self, record):
        return mark_safe(  # noqa: S308 - the number is escaped
            f'<a class="text-decoration-none" href="{self._detail_url(record.pk)}">{escape(record.number)}</a>'
        )

    def render_title(self, record):
        confidential = CONFIDENTIAL_BADGE if record.confidential else ""
        team = f" · {escape(record.team.name)}" if record.team_id else ""
        return mark_safe(  # noqa: S308 - every value is escaped
            f'<a href="{self._detail_url(record.pk)}" class="link-body-emphasis text-decoration-none">'
            f'{escape(record.title)}</a>{confidential}'
            f'<div class="small text-body-secondary">{escape(record.service.name)}{team}</div>'
        )

    def render_severity(self, record):
        return mark_safe(SEVERITY_BADGES.get(record.severity) or format_html(  # noqa: S308 - constants
            '<span class="badge text-bg-secondary" data-severity="{}">{}</span>',
            record.severity, record.get_severity_display()))

    def render_state(self, record):
        badge = STATE_BADGES.get(record.state) or format_html(
            '<span class="badge text-bg-secondary" data-state="{}">{}</span>', record.state, record.get_state_display())
        if record.escalation_level:
            level = int(record.escalation_level)
            badge += (' <span class="badge bg-danger-subtle text-danger-emphasis border border-danger-subtle" '
                      f'title="Escalation level {level}">esc {level}</span>')
        return mark_safe(badge)  # noqa: S308 - constants and an integer

    def render_assignee(self, value) -> str:
        return format_person(value)

    def render_detected_at(self, value) -> str:
        return format_when(value)

    def render_sla(self, record):
        sla = getattr(record, "queue_sla", None)
        if sla is None:  # a table used without prepare(): compute this row alone
            sla = sla_summary(record, sla_state(record, now=self.now))
        detail = ""
        if sla["name"]:
            parts = escape(sla["name"])
            if sla["other_breached"]:
                other = escape(sla["other_breached"])
                parts += (f' · <span class="text-danger-emphasis" title="The {other} SLA was breached">'
                          f'{other} breached</span>')
            paused = f'<span class="sla-paused-reason">{escape(sla["paused"])}</span>' if sla["paused"] else ""
            detail = f'<div class="small text-body-secondary lh-1">{parts}{paused}</div>'
        return mark_safe(  # noqa: S308 - every value is escaped
            f'<div class="{escape(sla["css"])}" data-sla-status="{escape(sla["status"])}">{escape(sla["text"])}</div>'
            f"{detail}"
        )

    def render_actions(self, record):
        if not getattr(record, "can_take", False):
            return ""
        return mark_safe(  # noqa: S308 - the number is escaped
            '<button class="btn btn-outline-primary btn-sm py-0" type="submit" form="bulk-form" '
            f'formaction="{self._assign_url(record.pk)}" data-assign-to-me="{escape(record.number)}">'
            "Assign to me</button>"
        )

    def order_severity(self, queryset, is_descending):
        """Critical → low (ascending), not alphabetical."""
        queryset = order_by_urgency(queryset).order_by(
            ("-" if is_descending else "") + "severity_rank", "-detected_at"
        )
        return queryset, True

    def order_sla(self, queryset, is_descending):
        """The SLA column sorts by urgency (remaining time, then severity)."""
        return order_by_urgency(queryset, descending=is_descending), True
