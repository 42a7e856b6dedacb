"""The change list's table (django-tables2)."""

from __future__ import annotations

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .choices import REQUIRED_APPROVAL_ROLES, ApprovalRole, ChangeType, Decision
from .models import ChangeRequest
from .selectors import approval_summary
from .templatetags.changes_tags import change_risk_badge, change_state_badge, change_type_badge

# Shown from the md breakpoint up: a phone sees number, title and state.
WIDE = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell"}}


class ChangeRequestTable(tables.Table):
    """One row per change; the queryset prefetches services and approvals (conflicts are stored)."""

    number = tables.Column(verbose_name="Number")
    title = tables.Column(linkify=("changes:detail", {"pk": tables.A("pk")}), attrs={"td": {"class": "list-title"}})
    change_type = tables.Column(verbose_name="Type", attrs=WIDE)
    risk = tables.Column(attrs=WIDE)
    state = tables.Column()
    services = tables.Column(orderable=False, empty_values=(), attrs=WIDE)
    planned_window = tables.Column(
        verbose_name="Planned window", empty_values=(), order_by=("planned_start", "planned_end"), attrs=WIDE
    )
    requester = tables.Column(order_by=("requester__last_name", "requester__first_name", "requester__username"),
                              attrs=WIDE)
    approvals = tables.Column(verbose_name="Approvals", empty_values=(), orderable=False, attrs=WIDE)

    class Meta:
        model = ChangeRequest
        fields = ()
        sequence = (
            "number", "title", "change_type", "risk", "state", "services", "planned_window",
            "requester", "approvals",
        )
        attrs = {"class": "table table-sm table-hover align-middle"}
        order_by = ("-created_at",)
        empty_text = "No changes match these filters."

    def render_number(self, record):
        flags = []
        if record.conflicts:
            flags.append(format_html(
                ' <span class="badge text-bg-warning" title="{}">{} conflict{}</span>',
                " · ".join(item["detail"] for item in record.conflicts), len(record.conflicts),
                "s" if len(record.conflicts) != 1 else "",
            ))
        if record.in_freeze:
            flags.append(format_html(
                ' <span class="badge text-bg-info" title="Emergency change inside a change freeze">freeze</span>'
            ))
        return format_html(
            '<a class="fw-semibold text-nowrap" href="{}">{}</a>{}',
            reverse("changes:detail", args=[record.pk]),
            record.number,
            format_html_join("", "{}", ((flag,) for flag in flags)),
        )

    def render_change_type(self, record):
        return change_type_badge(record)

    def render_risk(self, record):
        return format_html('{} <span class="small text-body-secondary" title="Risk score">{}</span>',
                           change_risk_badge(record), record.risk_score)

    def render_state(self, record):
        return change_state_badge(record)

    def render_services(self, record):
        names = [service.name for service in record.services.all()]
        return ", ".join(names) if names else "—"

    def render_planned_window(self, record):
        return render_to_string("changes/_window.html", {"change": record, "compact": True})

    def render_requester(self, value):
        return value.get_full_name() or value.get_username()

    def render_approvals(self, record):
        required = len(REQUIRED_APPROVAL_ROLES[ChangeType(record.change_type)])
        summary = approval_summary(record)
        if not required:
            return format_html('<span class="text-body-secondary">{}</span>', summary)
        decisions = {approval.role: approval.decision for approval in record.approvals.all()}
        given = sum(1 for decision in decisions.values() if decision == Decision.APPROVED)
        css = "text-success fw-semibold" if given >= required else ""
        if Decision.REJECTED in decisions.values():
            css = "text-danger fw-semibold"
        marks = format_html_join(
            " ", '<span class="badge {}" title="{}">{}</span>',
            (
                (
                    "text-bg-success" if decisions.get(role) == Decision.APPROVED
                    else "text-bg-danger" if decisions.get(role) == Decision.REJECTED
                    else "text-bg-light border",
                    f"{ApprovalRole(role).label}: {decisions.get(role, 'waiting')}",
                    ApprovalRole(role).label[0],
                )
                for role in REQUIRED_APPROVAL_ROLES[ChangeType(record.change_type)]
            ),
        )
        return format_html('<span class="text-nowrap" title="{}"><span class="{}">{}/{}</span> {}</span>',
                           summary, css, given, required, marks)
