"""Admin of the automation rules (switched and tuned by superusers and Ops Managers) and the run log."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from opsdesk.admin import ReadOnlyAdmin
from opsdesk.exceptions import DomainValidationError

from . import services
from .models import AutomationRule, AutomationRun
from .selectors import runs_visible_to


class AutomationRuleForm(forms.ModelForm):
    """Checks ``params`` against the rule's schema: a bad parameter is a form error, never a 500."""

    class Meta:
        model = AutomationRule
        fields = ["enabled", "params"]
        widgets = {"params": forms.Textarea(attrs={"rows": 4, "cols": 60})}

    def clean_params(self):
        params = self.cleaned_data.get("params")
        definition = self.instance.definition
        if definition is None:
            raise forms.ValidationError("No rule with this key is installed: its parameters cannot be checked.")
        try:
            return definition.clean_params(params)
        except DomainValidationError as exc:
            raise forms.ValidationError([m for messages in exc.errors.values() for m in messages]) from exc


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    form = AutomationRuleForm
    list_display = ["key", "title", "trigger", "enabled", "params_text", "updated_at", "updated_by"]
    list_editable = ["enabled"]
    list_select_related = ["updated_by"]
    readonly_fields = ["key", "title", "trigger", "what_it_does", "parameters", "updated_at", "updated_by"]
    fields = ["key", "title", "trigger", "what_it_does", "enabled", "params", "parameters", "updated_at",
              "updated_by"]

    def has_add_permission(self, request):
        return False  # one row per installed rule, seeded by a migration

    def has_delete_permission(self, request, obj=None):
        return False  # switch a rule off instead; its runs keep pointing at it

    @admin.display(description="Rule")
    def title(self, obj):
        return obj.definition.title if obj.definition else "(not installed)"

    @admin.display(description="Trigger")
    def trigger(self, obj):
        return obj.definition.trigger.name if obj.definition else "—"

    @admin.display(description="What it does")
    def what_it_does(self, obj):
        return obj.definition.summary if obj.definition else "—"

    @admin.display(description="Params")
    def params_text(self, obj):
        return json.dumps(obj.params, sort_keys=True) if obj.params else "—"

    @admin.display(description="Parameter schema")
    def parameters(self, obj):
        schema = obj.definition.params_schema() if obj.definition else {}
        if not schema:
            return "This rule takes no parameters."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code> ({}): {} — default <code>{}</code>{}</li>",
                (
                    (
                        name, item["type"], item.get("help", ""), json.dumps(item["default"]),
                        f"; one of {', '.join(str(c) for c in item['choices'])}" if "choices" in item
                        else f"; {item.get('min', '…')} to {item.get('max', '…')}" if "min" in item else "",
                    )
                    for name, item in schema.items()
                ),
            ),
        )

    def save_model(self, request, obj, form, change):
        """Through ``rule_update`` (permission, schema, who and when)."""
        # The change list edits ``enabled`` only; the change form both.
        saved = services.rule_update(
            rule=obj, by=request.user, enabled=form.cleaned_data.get("enabled"), params=form.cleaned_data.get("params")
        )
        obj.updated_by, obj.updated_at = saved.updated_by, saved.updated_at


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyAdmin):
    """The append-only log of what the rules did; runs about confidential incidents hidden as in §6."""

    list_display = ["created_at", "rule", "event", "subject_number", "outcome", "short_detail"]
    list_filter = ["outcome", "rule", "event"]
    search_fields = ["subject_number", "detail", "event_key"]
    date_hierarchy = "created_at"
    list_select_related = ["rule"]
    fields = ["created_at", "rule", "event", "event_key", "subject_type", "subject_id", "subject_number",
              "outcome", "detail", "records_made"]
    readonly_fields = fields

    def get_queryset(self, request):
        return runs_visible_to(request.user).select_related("rule", "subject_type")

    @admin.display(description="Detail")
    def short_detail(self, obj):
        return obj.detail if len(obj.detail) <= 120 else f"{obj.detail[:117]}…"

    @admin.display(description="Records created or changed")
    def records_made(self, obj):
        records = list(obj.records.select_related("content_type"))  # one run's page: a join is fine
        if not records:
            return "—"
        return format_html_join(
            ", ", "{} {} {}", ((r.get_action_display().lower(), r.content_type.name, r.number or r.object_id)
                               for r in records)
        )
