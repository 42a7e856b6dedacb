"""The release list table."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html

from opsdesk.templatetags.opsdesk_format import format_person, format_when

from .models import Release

STATE_BADGES = {
    "planning": "secondary",
    "preparation": "info",
    "implementation": "primary",
    "verification": "warning",
    "completed": "success",
    "failed": "danger",
    "rolled_back": "danger",
    "cancelled": "dark",
}


# Shown from the md breakpoint up: a phone sees number, name and state.
WIDE = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell"}}
WIDE_NOWRAP = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell text-nowrap"}}


class ReleaseTable(tables.Table):
    number = tables.Column(linkify=True, attrs={"td": {"class": "text-nowrap fw-semibold"}})
    name = tables.Column(attrs={"td": {"class": "list-title"}})
    version = tables.Column(attrs=WIDE)
    state = tables.Column()
    services = tables.ManyToManyColumn(verbose_name="Services", orderable=False, attrs=WIDE)
    release_manager = tables.Column(verbose_name="Release manager", attrs=WIDE,
                                    order_by=("release_manager__first_name", "release_manager__username"))
    planned_date = tables.Column(verbose_name="Planned", attrs=WIDE_NOWRAP)
    completed_at = tables.Column(verbose_name="Completed", attrs=WIDE_NOWRAP)
    created_at = tables.Column(verbose_name="Created", attrs=WIDE_NOWRAP)

    class Meta:
        model = Release
        fields = ("number", "name", "version", "state", "services", "release_manager", "planned_date",
                  "created_at", "completed_at")
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = "No releases match these filters."
        order_by = ("-created_at",)

    def render_state(self, value, record):
        return format_html(
            '<span class="badge text-bg-{}">{}</span>', STATE_BADGES.get(record.state, "secondary"), value
        )

    def render_release_manager(self, value):
        return format_person(value)

    def render_planned_date(self, value):
        return format_when(value)

    def render_completed_at(self, value):
        return format_when(value)

    def render_created_at(self, value):
        return format_when(value)
