"""The release list table."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html

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


class ReleaseTable(tables.Table):
    number = tables.Column(linkify=True, attrs={"td": {"class": "text-nowrap fw-semibold"}})
    state = tables.Column()
    services = tables.ManyToManyColumn(verbose_name="Services", orderable=False)
    release_manager = tables.Column(verbose_name="Release manager", order_by=("release_manager__username",))
    planned_date = tables.DateColumn(format="Y-m-d", verbose_name="Planned")
    completed_at = tables.DateTimeColumn(format="Y-m-d H:i", verbose_name="Completed")
    created_at = tables.DateTimeColumn(format="Y-m-d", verbose_name="Created")

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
        return value.get_full_name() or value.username
