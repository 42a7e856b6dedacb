"""Release admin: the release with its deliverables, checks and deployments inline, and
buttons for the transitions — all routed through ``releases/services.py``.

No FSMAdminMixin: django-fsm's admin applies a posted transition without checking
permission. Here each button posts to ``<id>/transition/<name>/``, which calls
``release_transition`` (permission, state and gate checked there); a refused gate
comes back as an error message naming what is missing.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Value
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from opsdesk.confidentiality import hidden_incidents, sees_all_incidents
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.workflow import transition_refusal

from . import services
from .choices import DeploymentStatus
from .forms import release_managers
from .gates import gate_status, missing_labels
from .models import Deployment, Release, ReleaseCheck, ReleaseDeliverable
from .selectors import releases_list

# Buttons in this order: the forward gates first, then the exits.
ADMIN_TRANSITION_LABELS = {
    "prepare": "Prepare (→ preparation)",
    "implement": "Implement (→ implementation)",
    "verify": "Verify (→ verification)",
    "complete": "Complete",
    "fail": "Mark failed",
    "roll_back": "Mark rolled back",
    "cancel": "Cancel release",
}


def _report(request, exc: Exception) -> None:
    if isinstance(exc, DomainValidationError):
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()))
    else:
        messages.error(request, getattr(exc, "message", str(exc)))


# --- inlines -------------------------------------------------------------------------


class DeliverableInlineForm(forms.ModelForm):
    link = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = ReleaseDeliverable
        fields = ["kind", "content", "link"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("kind"):
            errors = services.deliverable_errors(
                kind=data.get("kind"), content=data.get("content", ""), link=data.get("link", "")
            )
            for field, message in errors.items():
                self.add_error(field if field in self.fields else None, message)
        return data


class DeliverableInline(admin.TabularInline):
    """Deliverables are added here (author = you) and never edited or deleted."""

    model = ReleaseDeliverable
    form = DeliverableInlineForm
    extra = 0
    fields = ["kind", "content", "link", "author", "created_at"]
    readonly_fields = ["author", "created_at"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False


class CheckInline(admin.TabularInline):
    """Verification checks: adding one for a kind already recorded replaces its result."""

    model = ReleaseCheck
    extra = 0
    fields = ["kind", "passed", "note", "checked_by", "checked_at"]
    readonly_fields = ["checked_by", "checked_at"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # The service replaces an existing result; skip the unique-together check of the form.
        formset.form.validate_unique = lambda self: None
        return formset


class DeploymentInlineForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = ["environment", "status", "started_at", "finished_at"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("environment"):
            errors = services.deployment_errors(
                environment=data.get("environment", ""), status=data.get("status"),
                started_at=data.get("started_at") or timezone.now(), finished_at=data.get("finished_at"),
                now=timezone.now(),
            )
            for field, message in errors.items():
                self.add_error(field if field in self.fields else None, message)
        return data


class DeploymentInline(admin.TabularInline):
    """Deployments are recorded here; finish a running one on its own admin page."""

    model = Deployment
    form = DeploymentInlineForm
    extra = 0
    fields = ["environment", "status", "started_at", "finished_at", "deployed_by", "incident_link", "edit_link"]
    readonly_fields = ["deployed_by", "incident_link", "edit_link"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Incident")
    def incident_link(self, deployment):
        if not deployment.incident_id:
            return "—"
        if deployment.incident.confidential:
            return "a confidential incident"  # the inline has no request to ask who may see it (§6)
        try:
            url = reverse("admin:incidents_incident_change", args=[deployment.incident_id])
        except NoReverseMatch:
            return deployment.incident.number
        return format_html('<a href="{}">{}</a>', url, deployment.incident.number)

    @admin.display(description="")
    def edit_link(self, deployment):
        if deployment.pk and deployment.status == DeploymentStatus.RUNNING:
            url = reverse("admin:releases_deployment_change", args=[deployment.pk])
            return format_html('<a href="{}">Finish…</a>', url)
        return ""


# --- release ------------------------------------------------------------------------


class ReleaseAdminForm(forms.ModelForm):
    class Meta:
        model = Release
        fields = ["name", "version", "services", "release_manager", "planned_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "release_manager" in self.fields:
            self.fields["release_manager"].queryset = release_managers()


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    form = ReleaseAdminForm
    list_display = ["number", "name", "version", "state", "planned_date", "release_manager", "service_names",
                    "completed_at"]
    list_filter = ["state", "services", "planned_date"]
    search_fields = ["number", "name", "version"]
    list_select_related = ["release_manager"]
    date_hierarchy = "created_at"
    filter_horizontal = ["services"]
    readonly_fields = ["number", "state", "created_at", "completed_at", "gate_summary"]
    fieldsets = [
        (None, {"fields": ["number", "state", "name", "version", "services", "release_manager", "planned_date"]}),
        ("Gates", {"fields": ["gate_summary", "created_at", "completed_at"]}),
    ]
    inlines = [DeliverableInline, CheckInline, DeploymentInline]
    change_form_template = "admin/releases/release/change_form.html"

    def get_queryset(self, request):
        return releases_list()

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # releases are cancelled, never deleted

    @admin.display(description="Services")
    def service_names(self, release):
        return ", ".join(service.name for service in release.services.all())

    @admin.display(description="Gate status")
    def gate_summary(self, release):
        if release.pk is None:
            return "—"
        rows = format_html_join(
            "", "<li><code>{}</code>: {}</li>",
            ((name, ", ".join(missing_labels(missing)) if missing else "✓ ready")
             for name, missing in gate_status(release).items()),
        )
        return format_html("<ul style='margin:0;padding-left:1rem'>{}</ul>", rows)

    # writes go through the services

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.Meta.fields if name in form.cleaned_data}
        if change:
            services.release_update(release=obj, by=request.user, **data)
        else:
            release = services.release_create(by=request.user, **data)
            obj.pk = release.pk
            obj.number = release.number

    def save_related(self, request, form, formsets, change):
        # services (M2M) were saved by the service; inline rows go through their services.
        for formset in formsets:
            self.save_formset(request, form, formset, change)

    def save_formset(self, request, form, formset, change):
        release = Release.objects.get(pk=form.instance.pk)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if inline_form.instance.pk is not None or not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            try:
                if formset.model is ReleaseDeliverable:
                    created = services.deliverable_add(
                        release=release, by=request.user, kind=data["kind"], content=data.get("content", ""),
                        link=data.get("link", ""),
                    )
                elif formset.model is ReleaseCheck:
                    created = services.check_record(
                        release=release, by=request.user, kind=data["kind"], passed=bool(data.get("passed")),
                        note=data.get("note", ""),
                    )
                elif formset.model is Deployment:
                    created = services.deployment_create(
                        release=release, by=request.user, environment=data["environment"],
                        status=data["status"], started_at=data.get("started_at"),
                        finished_at=data.get("finished_at"),
                    )
                else:
                    continue
            except DomainValidationError as exc:
                _report(request, exc)
            else:
                formset.new_objects.append(created)

    # transition buttons

    def get_urls(self):
        custom = [
            path("<int:pk>/transition/<slug:name>/", self.admin_site.admin_view(self.transition_view),
                 name="releases_release_transition"),
        ]
        return custom + super().get_urls()

    def transition_view(self, request, pk: int, name: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        release = get_object_or_404(Release, pk=pk)
        if name not in release.transition_names():
            raise Http404("No such transition.")
        try:
            services.release_transition(
                instance=release, name=name, by=request.user, comment=request.POST.get("comment", ""),
                expected_state=request.POST.get("expected_state") or None,
            )
        except PermissionDenied:
            raise
        except (TransitionNotAllowed, ConcurrentUpdate, DomainValidationError) as exc:
            _report(request, exc)
        else:
            messages.success(request, f"{release.number}: {name.replace('_', ' ')} done.")
        return HttpResponseRedirect(reverse("admin:releases_release_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        release = Release.objects.filter(pk=object_id).first()
        if release is not None:
            buttons = []
            for name in ADMIN_TRANSITION_LABELS:
                refusal = transition_refusal(release, name, request.user)
                missing = getattr(refusal, "missing", [])
                if refusal is None or missing:
                    buttons.append({
                        "name": name, "label": ADMIN_TRANSITION_LABELS[name],
                        "missing": release.blocker_labels(missing),
                        "url": reverse("admin:releases_release_transition", args=[release.pk, name]),
                    })
            extra_context.update({"transition_buttons": buttons, "release_state": release.state})
        return super().change_view(request, object_id, form_url, extra_context=extra_context)


class DeploymentAdminForm(forms.ModelForm):
    class Meta:
        model = Deployment
        fields = ["status", "finished_at"]

    def clean(self):
        data = super().clean()
        current = Deployment.objects.filter(pk=self.instance.pk).values_list("status", flat=True).first()
        status = data.get("status")
        if current and current != DeploymentStatus.RUNNING and status != current:
            self.add_error("status", "A finished deployment keeps its status; record a new deployment instead.")
        elif status and status != DeploymentStatus.RUNNING:
            now = timezone.now()
            errors = services.deployment_errors(
                environment=self.instance.environment, status=status, started_at=self.instance.started_at,
                finished_at=data.get("finished_at") or now, now=now,
            )
            for field, message in errors.items():
                self.add_error(field if field in self.fields else None, message)
        elif status == DeploymentStatus.RUNNING and data.get("finished_at"):
            self.add_error("finished_at", "A running deployment has no finish time.")
        return data


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    """Deployments; a running one is finished here (status and finish time) via the service."""

    list_display = ["release", "environment", "status", "started_at", "finished_at", "deployed_by", "incident_named"]
    list_filter = ["status", "environment"]
    search_fields = ["release__number", "release__name", "environment"]
    list_select_related = ["release", "deployed_by", "incident"]
    form = DeploymentAdminForm
    fields = ["release", "environment", "started_at", "status", "finished_at", "deployed_by", "incident_named"]
    readonly_fields = ["release", "environment", "started_at", "deployed_by", "incident_named"]

    @admin.display(description="Incident")
    def incident_named(self, deployment):
        """The incident it opened; a confidential one the user may not see is not named (§6)."""
        if deployment.incident_id is None:
            return "—"
        if getattr(deployment, "incident_hidden", True):
            return "a confidential incident"
        return deployment.incident.number

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if sees_all_incidents(request.user):
            return rows.annotate(incident_hidden=Value(False))
        hidden = hidden_incidents(request.user).filter(pk=OuterRef("incident_id"))
        return rows.annotate(incident_hidden=Exists(hidden))

    def has_add_permission(self, request):
        return False  # recorded on the release

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        updated = services.deployment_update(
            deployment=obj, by=request.user, status=form.cleaned_data["status"],
            finished_at=form.cleaned_data.get("finished_at"),
        )
        obj.incident = updated.incident
