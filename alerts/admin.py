"""Admin of the alert intake: sources (token shown once, ready-to-paste configuration) and alerts (read-only).

Writes go through ``alerts.services``; alerts of a confidential incident are listed only for
those who may see that incident (§6).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from opsdesk.admin import ReadOnlyAdmin
from opsdesk.exceptions import DomainValidationError

from . import services
from .config import configuration
from .models import Alert, AlertSource
from .selectors import alerts_visible_to, ingest_url, source_list


class AlertSourceForm(forms.ModelForm):
    """Runs the service's field rules, so a bad value is a form error, never a 500."""

    class Meta:
        model = AlertSource
        fields = list(services.SOURCE_FIELDS)
        widgets = {"severity_map": forms.Textarea(attrs={"rows": 4, "cols": 60})}

    def clean(self):
        cleaned = super().clean()
        candidate = AlertSource(pk=self.instance.pk, **{
            name: cleaned.get(name, getattr(self.instance, name, None))
            for name in services.SOURCE_FIELDS if name != "default_service"
        })
        candidate.default_service = cleaned.get("default_service")
        try:
            services.validate_source(candidate)
        except DomainValidationError as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return cleaned


def _config_block(source: AlertSource, token: str | None = None):
    title, text = configuration(source, token)
    return format_html("<p><strong>{}</strong></p><pre class=\"alert-config\">{}</pre>", title, text)


@admin.register(AlertSource)
class AlertSourceAdmin(admin.ModelAdmin):
    form = AlertSourceForm
    list_display = ["name", "kind", "enabled", "last_alert", "firing", "total"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["rotate_token"]
    readonly_fields = ["ingest_url", "token_prefix", "token_created_at", "configuration", "created_at", "created_by"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "enabled"]}),
        ("Mapping", {"fields": ["default_service", "default_severity", "severity_map", "service_label"]}),
        ("Behaviour", {"fields": ["auto_resolve", "reopen_minutes", "rate_limit_per_minute"]}),
        ("Connection", {"fields": ["ingest_url", "token_prefix", "token_created_at", "configuration"]}),
        ("Record", {"fields": ["created_at", "created_by"]}),
    ]
    add_fieldsets = fieldsets[:3]

    class Media:
        css = {"all": ["css/alerts-admin.css"]}

    def get_queryset(self, request):
        return source_list()

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def has_delete_permission(self, request, obj=None):
        return False  # its alerts point at it: disable it instead

    @admin.display(description="Last alert", ordering="last_alert_at")
    def last_alert(self, obj):
        return obj.last_alert_at or "—"

    @admin.display(description="Firing", ordering="alerts_firing")
    def firing(self, obj):
        return obj.alerts_firing or 0

    @admin.display(description="Alerts", ordering="alerts_total")
    def total(self, obj):
        return obj.alerts_total or 0

    @admin.display(description="Ingest URL")
    def ingest_url(self, obj):
        return ingest_url(obj) if obj.pk else "—"

    @admin.display(description="Configuration to paste")
    def configuration(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            "{}<p class=\"help\">The token is shown only when the source is created or its token replaced "
            "(action “Replace the token”); OpsDesk keeps only its hash.</p>",
            _config_block(obj),
        )

    def _show_token(self, request, source: AlertSource, token: str, verb: str) -> None:
        self.message_user(
            request,
            format_html(
                "{} {}. Its token, shown this once: <code>{}</code>{}", verb, source.name, token,
                _config_block(source, token),
            ),
            level=messages.WARNING,
        )

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data.get(name) for name in services.SOURCE_FIELDS if name in form.cleaned_data}
        if change:
            saved = services.alert_source_update(
                source=obj, by=request.user, **{k: v for k, v in fields.items() if k in form.changed_data}
            )
        else:
            saved, token = services.alert_source_create(by=request.user, **fields)
            self._show_token(request, saved, token, "Created")
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    @admin.action(description="Replace the token (the old one stops working)", permissions=["change"])
    def rotate_token(self, request, queryset):
        for source in queryset:
            token = services.alert_source_rotate_token(source=source, by=request.user)
            self._show_token(request, source, token, "New token for")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Every alert received (read-only); those of confidential incidents only for who may see them."""

    list_display = ["alert_title", "status", "incident_link", "source", "last_seen"]
    list_display_links = ["alert_title"]
    list_filter = ["status", "source"]
    search_fields = ["fingerprint", "incident__number"]
    date_hierarchy = "last_seen"
    list_select_related = ["source", "incident"]
    fields = ["source", "fingerprint", "status", "alert_title", "labels_list", "annotations_list", "starts_at",
              "ends_at", "generator_link", "first_seen", "last_seen", "incident_link", "previous", "current"]
    readonly_fields = fields

    def get_queryset(self, request):
        return alerts_visible_to(request.user).select_related("source", "incident")

    @admin.display(description="Title")
    def alert_title(self, obj):
        return obj.title

    @admin.display(description="Incident", ordering="incident__number")
    def incident_link(self, obj):
        if obj.incident_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("incidents:detail", args=[obj.incident_id]),
                           obj.incident.number)

    @admin.display(description="Generator")
    def generator_link(self, obj):
        if not obj.generator_url.startswith(("http://", "https://")):
            return obj.generator_url or "—"
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', obj.generator_url, obj.generator_url)

    @admin.display(description="Labels")
    def labels_list(self, obj):
        return format_html_join(", ", "<code>{}={}</code>", sorted(obj.labels.items())) or "—"

    @admin.display(description="Annotations")
    def annotations_list(self, obj):
        return format_html("<dl>{}</dl>", format_html_join(
            "", "<dt>{}</dt><dd>{}</dd>", sorted(obj.annotations.items())
        )) if obj.annotations else "—"
