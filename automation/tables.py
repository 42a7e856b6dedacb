"""The run log's table (django-tables2)."""

from __future__ import annotations

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from .models import AutomationRun


class AutomationRunTable(tables.Table):
    created_at = tables.DateTimeColumn(verbose_name="When", format="j M Y H:i", attrs={"td": {"class": "text-nowrap"}})
    rule = tables.Column(accessor="rule__key", verbose_name="Rule", order_by=("rule__key", "-created_at"))
    event = tables.Column()
    subject = tables.Column(empty_values=(), orderable=False)
    outcome = tables.Column()
    detail = tables.Column(orderable=False, attrs={"td": {"class": "automation-detail"}})

    class Meta:
        model = AutomationRun
        fields = ()
        sequence = ("created_at", "rule", "event", "subject", "outcome", "detail")
        attrs = {"class": "table table-sm table-hover align-middle"}
        order_by = ("-created_at",)
        empty_text = "No automation runs match these filters."

    def render_rule(self, record):
        return format_html(
            '<a class="font-monospace small text-decoration-none" href="{}">{}</a>',
            reverse("automation:run", args=[record.pk]), record.rule.key,
        )

    def render_event(self, value):
        return format_html('<span class="font-monospace small">{}</span>', value)

    def render_subject(self, record):
        return render_to_string("automation/partials/subject.html", {"run": record})

    def render_outcome(self, record):
        return render_to_string("automation/partials/outcome.html", {"run": record})
