"""The change advisory board's screens (SPEC §3, §3.1): the change list, decisions, transitions,
CAB meetings with their board page, maintenance windows, freezes and feed tokens.

Every write goes through ``changes.services``: creating and editing drafts,
the board's approve/reject (buttons on the change page, actions on the list,
the meeting's board page), the other transitions (buttons), meetings and
their minutes, feed token revocation. Nobody approves by editing a field: the
state, the timestamps and the approval history are read-only here. Saving or
deleting a freeze or a maintenance window recomputes the conflicts it touches.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from opsdesk.admin import ReadOnlyAdmin
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.web import add_domain_errors, run_action

from . import conflicts as conflict_rules
from . import selectors, services
from .choices import REQUIRED_APPROVAL_ROLES, ApprovalRole, ChangeState, ChangeType, Decision
from .forms import RiskQuestionnaireMixin
from .models import (
    WEEKDAY_NAMES,
    CABMeeting,
    CalendarFeedToken,
    ChangeApproval,
    ChangeFreeze,
    ChangeRequest,
    MaintenanceWindow,
    StandardChangeTemplate,
)

OUTCOME_TRANSITIONS = ("complete", "fail", "roll_back")
TRANSITION_LABELS = {
    "submit": "Submit to the board",
    "start": "Start implementation",
    "verify": "Move to verifying",
    "complete": "Complete",
    "fail": "Mark failed",
    "roll_back": "Roll back",
    "cancel": "Cancel change",
}


class AwaitingMyApprovalFilter(admin.SimpleListFilter):
    """Submitted changes waiting on a decision in one of my board roles."""

    title = "my approval"
    parameter_name = "awaiting"

    def lookups(self, request, model_admin):
        if not selectors.approver_roles_of(request.user):
            return []
        return [("me", "Awaiting my approval")]

    def queryset(self, request, queryset):
        if self.value() != "me":
            return queryset
        condition = selectors.awaiting_approval_filter(request.user)
        return queryset.none() if condition is None else queryset.filter(condition)


class HasConflictsFilter(admin.SimpleListFilter):
    """Changes whose stored conflicts are not empty (any kind)."""

    title = "conflicts"
    parameter_name = "conflicts"

    def lookups(self, request, model_admin):
        return [("yes", "With conflicts"), ("no", "Without conflicts")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(conflicts=[])
        if self.value() == "no":
            return queryset.filter(conflicts=[])
        return queryset


class ChangeApprovalInline(admin.TabularInline):
    """The approval history: read-only, append-only."""

    model = ChangeApproval
    fields = ["decided_at", "role", "approver", "decision", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["decided_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("approver")


RISK_FORM_FIELDS = [
    "risk_user_impact", "risk_complexity", "risk_tested_in_staging", "risk_rollback_tested",
    "risk_outage_required", "risk_override", "risk_override_reason",
]
# Set through the questionnaire fields, not as raw model fields.
_RISK_MODEL_FIELDS = ("risk", "risk_answers", "risk_override_reason")


class ChangeRequestAdminForm(RiskQuestionnaireMixin, forms.ModelForm):
    """The questionnaire of the web form; shows the services' draft rules as field errors."""

    class Meta:
        model = ChangeRequest
        fields = [name for name in services.EDITABLE_FIELDS if name not in _RISK_MODEL_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial_risk(self.instance if self.instance.pk else None)

    def _post_clean(self):
        super()._post_clean()
        if self.instance.pk and not selectors.is_editable(self.instance) and self.changed_data:
            self.add_error(None, "Only draft changes can be edited.")
            return
        try:
            services.validate_change(self.instance)
        except DomainValidationError as exc:
            add_domain_errors(self, exc)


class DecisionForm(forms.Form):
    """A comment, and the role for a member of several board groups."""

    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)
    role = forms.ChoiceField(choices=ApprovalRole.choices, required=False)


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    """The board's change list and change page."""

    form = ChangeRequestAdminForm
    change_form_template = "admin/changes/changerequest/change_form.html"
    change_list_template = "admin/changes/changerequest/change_list.html"
    # Trimmed to fit 1280 px beside the filter sidebar; the in-freeze flag is a conflict kind now.
    list_display = [
        "number", "short_title", "type_label", "risk_badge", "state", "planned_window", "conflict_count",
        "approvals_so_far",
    ]
    list_display_links = ["number", "short_title"]
    list_filter = [AwaitingMyApprovalFilter, HasConflictsFilter, "state", "change_type", "risk", "in_freeze"]
    search_fields = ["number", "title", "description"]
    list_select_related = ["requester"]
    list_per_page = 50
    date_hierarchy = "planned_start"
    autocomplete_fields = ["services", "implementer", "template"]
    raw_id_fields = ["incidents", "release"]
    inlines = [ChangeApprovalInline]
    actions = ["approve_in_my_role", "reject_selected"]
    fieldsets = [
        (None, {"fields": ["number", "title", "description", "change_type", "template", "services",
                           "implementer"]}),
        ("Risk", {"fields": [*RISK_FORM_FIELDS, "risk_assessment"]}),
        ("Plan", {"fields": ["planned_start", "planned_end", "impact_assessment", "business_justification",
                             "implementation_plan", "testing_plan", "rollback_plan"]}),
        ("Process (set by the workflow)", {"fields": [
            "state", "requester", "submitted_at", "approved_at", "in_freeze", "actual_start", "actual_end",
            "post_implementation_review", "release", "incidents", "created_at", "updated_at",
        ]}),
    ]
    # Set by the process only: nobody approves by editing a field.
    process_fields = [
        "number", "state", "requester", "submitted_at", "approved_at", "in_freeze", "actual_start",
        "actual_end", "created_at", "updated_at", "risk_assessment",
    ]

    class Media:
        css = {"all": ["css/admin_changes.css"]}

    # --- list ---------------------------------------------------------------------------

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("approvals", queryset=ChangeApproval.objects.order_by("decided_at", "id"))
        )

    @admin.display(description="Title", ordering="title")
    def short_title(self, obj):
        return format_html('<span class="change-title" title="{}">{}</span>', obj.title, obj.title)

    @admin.display(description="Type", ordering="change_type")
    def type_label(self, obj):
        return obj.get_change_type_display()

    @admin.display(description="Risk", ordering="risk_score")
    def risk_badge(self, obj):
        return format_html('<span class="risk-badge risk-{}" title="{}">{} · {}</span>', obj.risk,
                           "; ".join(f"{f['detail']}: {f['points']}" for f in obj.risk_factors if f.get("points")),
                           obj.get_risk_display(), obj.risk_score)

    @admin.display(description="Risk score and factors")
    def risk_assessment(self, obj):
        if obj is None or obj.pk is None:
            return "Computed when the change is saved."
        return render_to_string("changes/_risk_factors.html", {"change": obj})

    @admin.display(description="Window", ordering="planned_start")
    def planned_window(self, obj):
        if not obj.planned_start or not obj.planned_end:
            return "—"
        start, end = timezone.localtime(obj.planned_start), timezone.localtime(obj.planned_end)
        day = "%d %b" if start.year == timezone.localdate().year else "%d %b %Y"
        if start.date() == end.date():
            end_format = "%H:%M"
        elif (end.date() - start.date()).days == 1:
            end_format = "%H:%M +1d"  # overnight
        else:
            end_format = f"{day} %H:%M"
        return format_html('<span title="{} – {}">{}–{}</span>', f"{start:%Y-%m-%d %H:%M}",
                           f"{end:%Y-%m-%d %H:%M}", start.strftime(f"{day} %H:%M"), end.strftime(end_format))

    @admin.display(description="Conflicts")
    def conflict_count(self, obj):
        if not obj.conflicts:
            return "0"
        return format_html('<strong class="conflict-count" title="{}">⚠ {}</strong>',
                           " · ".join(item["detail"] for item in obj.conflicts), len(obj.conflicts))

    @admin.display(description="Approvals")
    def approvals_so_far(self, obj):
        """``2/3`` and one mark per required role (T, B, O), the full summary on hover."""
        required = REQUIRED_APPROVAL_ROLES[obj.change_type]
        if not required:
            return selectors.approval_summary(obj)
        decisions = {approval.role: approval.decision for approval in obj.approvals.all()}
        given = sum(1 for role in required if decisions.get(role) == Decision.APPROVED)
        marks = format_html_join(
            "", '<span class="mark {}" title="{}: {}">{}</span>',
            ((decisions.get(role, "waiting"), ApprovalRole(role).label, decisions.get(role, "waiting"),
              ApprovalRole(role).label[0]) for role in required),
        )
        return format_html('<span class="approval-marks" title="{}">{}/{} {}</span>',
                           selectors.approval_summary(obj), given, len(required), marks)

    def changelist_view(self, request, extra_context=None):
        # The board's list needs the width: no app navigation beside it (breadcrumbs lead back).
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    # --- form -----------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None):
        return False  # a change is cancelled, never deleted

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not selectors.is_editable(obj):
            return [name for _, opts in self.get_fieldsets(request, obj) for name in opts["fields"]]
        return list(self.process_fields)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(name, {"fields": [f for f in opts["fields"] if f not in self.process_fields]})
                    for name, opts in self.fieldsets]
        if not selectors.is_editable(obj):  # the questionnaire is read as the assessment
            return [(name, {"fields": ["risk", "risk_assessment"] if name == "Risk" else opts["fields"]})
                    for name, opts in self.fieldsets]
        return self.fieldsets

    def save_model(self, request, obj, form, change):
        """Create or edit through the services (drafts only)."""
        fields = {
            name: (list(value) if name in ("services", "incidents") else value)
            for name, value in form.cleaned_data.items()
            if name in services.EDITABLE_FIELDS and name not in _RISK_MODEL_FIELDS
            and (not change or name in form.changed_data)
        }
        if not change or set(RISK_FORM_FIELDS) & set(form.changed_data):
            fields.update(form.risk_fields())
        if change:
            if fields:
                services.change_update(change=obj, by=request.user, **fields)
            return
        created = services.change_create(by=request.user, **fields)
        obj.pk = created.pk
        obj.number = created.number
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_related(self, request, form, formsets, change):
        # The many-to-many fields were set by the service; the only inline is read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainValidationError, TransitionNotAllowed, ConcurrentUpdate) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        change = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if change is not None:
            context.update(self.board_context(request, change))
            if not selectors.is_editable(change):
                context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, extra_context=context)

    def board_context(self, request, change: ChangeRequest) -> dict:
        """What the board panel at the top of the change page shows."""
        change = ChangeRequest.objects.prefetch_related("approvals").get(pk=change.pk)
        transitions = change.available_transitions_for(request.user)
        return {
            "board_conflicts": change.conflicts,
            "board_freezes": list(selectors.freezes_covering(change)),
            "board_change": change,
            "board_roles": selectors.decidable_roles(change, request.user),
            "board_pending": selectors.pending_roles(change),
            "board_summary": selectors.approval_summary(change),
            "board_transitions": [(name, TRANSITION_LABELS.get(name, name)) for name in transitions],
            "board_needs_review": change.change_type == ChangeType.EMERGENCY
            and any(name in OUTCOME_TRANSITIONS for name in transitions),
        }

    # --- board views ----------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", wrap(self.approve_view), name="changes_changerequest_approve"),
            path("<int:pk>/reject/", wrap(self.reject_view), name="changes_changerequest_reject"),
            path("<int:pk>/transition/", wrap(self.transition_view), name="changes_changerequest_transition"),
            *super().get_urls(),
        ]

    def _change_for(self, request, pk) -> ChangeRequest:
        change = get_object_or_404(ChangeRequest, pk=pk)
        if not self.has_view_or_change_permission(request, change):
            raise PermissionDenied
        return change

    def _back(self, change):
        return HttpResponseRedirect(reverse("admin:changes_changerequest_change", args=[change.pk]))

    def approve_view(self, request, pk):
        """POST: approve in the user's role (``role`` names it for a member of several groups)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        change = self._change_for(request, pk)
        role = request.POST.get("role") or None
        comment = request.POST.get("comment", "")
        run_action(
            request,
            lambda: services.change_approve(change=change, by=request.user, role=role, comment=comment),
            success=f"You approved {change.number}" + (f" as {role}." if role else "."),
        )
        return self._back(change)

    def reject_view(self, request, pk):
        """GET: a page asking why; POST: reject in the user's role (a comment is required)."""
        change = self._change_for(request, pk)
        form = DecisionForm(request.POST or None, initial={"role": request.GET.get("role", "")})
        if request.method == "POST" and form.is_valid():
            try:
                services.change_reject(
                    change=change, by=request.user, role=form.cleaned_data["role"] or None,
                    comment=form.cleaned_data["comment"],
                )
            except DomainValidationError as exc:
                add_domain_errors(form, exc)
            except (TransitionNotAllowed, ConcurrentUpdate) as exc:
                messages.error(request, exc.message)
                return self._back(change)
            else:
                messages.success(request, f"You rejected {change.number}.")
                return self._back(change)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Reject {change.number}",
            "change": change,
            "form": form,
            "several_roles": len(selectors.approver_roles_of(request.user)) > 1,
        }
        return TemplateResponse(
            request, "admin/changes/changerequest/reject.html", context, status=400 if form.errors else 200
        )

    def transition_view(self, request, pk):
        """POST ``name``: any transition but the board's, through ``change_transition``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        change = self._change_for(request, pk)
        name = request.POST.get("name", "")
        fields = {}
        if name in OUTCOME_TRANSITIONS and request.POST.get("post_implementation_review", "").strip():
            fields["post_implementation_review"] = request.POST["post_implementation_review"]
        run_action(
            request,
            lambda: services.change_transition(
                instance=change, name=name, by=request.user, comment=request.POST.get("comment", ""),
                expected_state=request.POST.get("expected_state") or None, **fields,
            ),
            success=f"{change.number}: {name.replace('_', ' ')} done.",
        )
        return self._back(change)

    # --- list actions ---------------------------------------------------------------------

    @admin.action(description="Approve in my role")
    def approve_in_my_role(self, request, queryset):
        approved, refused = 0, []
        for change in queryset.prefetch_related("approvals"):
            roles = selectors.decidable_roles(change, request.user)
            try:
                services.change_approve(change=change, by=request.user, role=roles[0] if roles else None)
            except (PermissionDenied, DomainValidationError, TransitionNotAllowed, ConcurrentUpdate) as exc:
                refused.append(f"{change.number}: {getattr(exc, 'message', None) or exc}")
            else:
                approved += 1
        if approved:
            messages.success(request, f"You approved {approved} change(s).")
        for line in refused:
            messages.error(request, line)

    @admin.action(description="Reject in my role (asks for a comment)")
    def reject_selected(self, request, queryset):
        form = DecisionForm(request.POST if request.POST.get("confirm") else None)
        if form.is_bound and form.is_valid() and form.cleaned_data["comment"].strip():
            rejected, refused = 0, []
            for change in queryset.prefetch_related("approvals"):
                roles = selectors.decidable_roles(change, request.user)
                role = form.cleaned_data["role"] or (roles[0] if roles else None)
                try:
                    services.change_reject(change=change, by=request.user, role=role,
                                           comment=form.cleaned_data["comment"])
                except (PermissionDenied, DomainValidationError, TransitionNotAllowed, ConcurrentUpdate) as exc:
                    refused.append(f"{change.number}: {getattr(exc, 'message', None) or exc}")
                else:
                    rejected += 1
            if rejected:
                messages.success(request, f"You rejected {rejected} change(s).")
            for line in refused:
                messages.error(request, line)
            return None
        if form.is_bound:
            form.add_error("comment", "Say why the changes are rejected.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Reject changes",
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "several_roles": len(selectors.approver_roles_of(request.user)) > 1,
        }
        return TemplateResponse(request, "admin/changes/changerequest/reject_selected.html", context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not selectors.approver_roles_of(request.user):
            actions.pop("approve_in_my_role", None)
            actions.pop("reject_selected", None)
        return actions


@admin.register(ChangeApproval)
class ChangeApprovalAdmin(ReadOnlyAdmin):
    """The board's decisions: append-only, so read-only here."""

    list_display = ["decided_at", "change", "role", "approver", "decision", "comment"]
    list_filter = ["role", "decision"]
    search_fields = ["change__number", "approver__username", "comment"]
    list_select_related = ["change", "approver"]
    date_hierarchy = "decided_at"


@admin.register(StandardChangeTemplate)
class StandardChangeTemplateAdmin(admin.ModelAdmin):
    """Pre-approved standard changes (managed by Change Managers)."""

    list_display = ["name", "active", "service_names"]
    list_filter = ["active"]
    search_fields = ["name", "description"]
    filter_horizontal = ["services"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services")

    @admin.display(description="Services")
    def service_names(self, obj):
        return ", ".join(service.name for service in obj.services.all()) or "—"


@admin.register(ChangeFreeze)
class ChangeFreezeAdmin(admin.ModelAdmin):
    """Freeze windows: no standard or normal change may be submitted inside one (a ``freeze`` conflict)."""

    list_display = ["name", "start", "end", "scope"]
    search_fields = ["name", "reason"]
    date_hierarchy = "start"
    filter_horizontal = ["services"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services")

    @admin.display(description="Services")
    def scope(self, obj):
        names = [service.name for service in obj.services.all()]
        return ", ".join(names) if names else format_html("<strong>{}</strong>", "All services")

    def save_model(self, request, obj, form, change):
        old = ChangeFreeze.objects.filter(pk=obj.pk).values_list("start", "end").first() if change else None
        obj._previous_window = old
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the services are set now
        freeze = form.instance
        for start, end in filter(None, [getattr(freeze, "_previous_window", None), (freeze.start, freeze.end)]):
            conflict_rules.refresh_in_window(start, end)

    def delete_model(self, request, obj):
        start, end = obj.start, obj.end
        super().delete_model(request, obj)
        conflict_rules.refresh_in_window(start, end)

    def delete_queryset(self, request, queryset):
        windows = list(queryset.values_list("start", "end"))
        super().delete_queryset(request, queryset)
        for start, end in windows:
            conflict_rules.refresh_in_window(start, end)


class MaintenanceWindowForm(forms.ModelForm):
    """Weekdays as checkboxes (stored as a list of 0 = Monday … 6 = Sunday)."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)), coerce=int, widget=forms.CheckboxSelectMultiple,
        help_text="The days on which the window opens (a window past midnight belongs to the day it opens).",
    )

    class Meta:
        model = MaintenanceWindow
        fields = ["service", "name", "weekdays", "start_time", "end_time", "time_zone"]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    """When each service may be changed; a change planned outside them shows an
    ``outside_maintenance_window`` conflict. A service without windows may be changed any time."""

    form = MaintenanceWindowForm
    list_display = ["service", "name", "days", "start_time", "end_time", "time_zone"]
    list_filter = ["service"]
    list_select_related = ["service"]
    search_fields = ["name", "service__name"]
    autocomplete_fields = ["service"]

    @admin.display(description="Weekdays")
    def days(self, obj):
        return ", ".join(WEEKDAY_NAMES[day] for day in obj.weekdays if 0 <= day <= 6)

    def save_model(self, request, obj, form, change):
        old_service = MaintenanceWindow.objects.filter(pk=obj.pk).values_list("service_id", flat=True).first()
        super().save_model(request, obj, form, change)
        conflict_rules.refresh_for_services({obj.service_id, old_service})

    def delete_model(self, request, obj):
        service_id = obj.service_id
        super().delete_model(request, obj)
        conflict_rules.refresh_for_services({service_id})

    def delete_queryset(self, request, queryset):
        service_ids = set(queryset.values_list("service_id", flat=True))
        super().delete_queryset(request, queryset)
        conflict_rules.refresh_for_services(service_ids)


# --- CAB meetings ---------------------------------------------------------------------------


class CABMeetingForm(forms.ModelForm):
    class Meta:
        model = CABMeeting
        fields = ["title", "starts_at", "cutoff", "attendees", "minutes"]

    def _post_clean(self):
        super()._post_clean()
        starts_at, cutoff = self.cleaned_data.get("starts_at"), self.cleaned_data.get("cutoff")
        if starts_at and cutoff and cutoff > starts_at:
            self.add_error("cutoff", "The cutoff must be at or before the start of the meeting.")


def _agenda_size():
    """An annotation: how many changes each meeting's agenda holds now (one subquery, no query per row)."""
    agenda = (
        ChangeRequest.objects.filter(
            change_type=ChangeType.NORMAL, state=ChangeState.SUBMITTED, submitted_at__lt=OuterRef("cutoff")
        )
        .order_by()
        .values("change_type")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(agenda, output_field=IntegerField()), 0)


@dataclass
class AgendaItem:
    """One change on the board page: the change, its decisions per role, and what the user may do."""

    change: ChangeRequest
    decisions: list
    roles: list


def _agenda_items(changes, user) -> list[AgendaItem]:
    items = []
    for change in changes:
        by_role = {approval.role: approval for approval in change.approvals.all()}
        decisions = [(ApprovalRole(role), by_role.get(role)) for role in REQUIRED_APPROVAL_ROLES[change.change_type]]
        items.append(AgendaItem(change=change, decisions=decisions, roles=selectors.decidable_roles(change, user)))
    return items


@admin.register(CABMeeting)
class CABMeetingAdmin(admin.ModelAdmin):
    """CAB meetings: plan them here; the board works each meeting's agenda on its board page."""

    form = CABMeetingForm
    list_display = ["__str__", "starts_at", "cutoff", "agenda_size", "attendee_count", "board_link"]
    list_display_links = ["__str__"]
    date_hierarchy = "starts_at"
    search_fields = ["title", "minutes"]
    filter_horizontal = ["attendees"]
    readonly_fields = ["minutes_recorded_by", "minutes_recorded_at"]
    change_form_template = "admin/changes/cabmeeting/change_form.html"

    class Media:
        css = {"all": ["css/admin_changes.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(agenda_total=_agenda_size(), attendee_total=Count("attendees"))

    @admin.display(description="On the agenda", ordering="agenda_total")
    def agenda_size(self, obj):
        return obj.agenda_total

    @admin.display(description="Attendees", ordering="attendee_total")
    def attendee_count(self, obj):
        return obj.attendee_total

    @admin.display(description="Board page")
    def board_link(self, obj):
        return format_html('<a class="button" href="{}">Open the board</a>',
                           reverse("admin:changes_cabmeeting_board", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        return False  # the meeting and its minutes are the board's record

    def save_model(self, request, obj, form, change):
        """Plan or move the meeting through the board services."""
        data = form.cleaned_data
        if change:
            fields = {name: data[name] for name in ("title", "starts_at", "cutoff") if name in form.changed_data}
            if fields:
                services.cab_meeting_update(meeting=obj, by=request.user, **fields)
            if "minutes" in form.changed_data:
                services.cab_record_minutes(meeting=obj, by=request.user, minutes=data["minutes"])
            obj.refresh_from_db()
            return
        created = services.cab_meeting_create(
            by=request.user, title=data["title"], starts_at=data["starts_at"], cutoff=data["cutoff"]
        )
        if data.get("minutes"):
            services.cab_record_minutes(meeting=created, by=request.user, minutes=data["minutes"])
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_related(self, request, form, formsets, change):
        if "attendees" in form.changed_data or not change:
            form.instance.attendees.set(form.cleaned_data["attendees"])

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainValidationError as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
            return HttpResponseRedirect(request.get_full_path())

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/board/", wrap(self.board_view), name="changes_cabmeeting_board"),
            path("<int:pk>/board/decide/<int:change_pk>/", wrap(self.decide_view), name="changes_cabmeeting_decide"),
            path("<int:pk>/board/minutes/", wrap(self.minutes_view), name="changes_cabmeeting_minutes"),
            *super().get_urls(),
        ]

    def _meeting_for(self, request, pk) -> CABMeeting:
        meeting = get_object_or_404(CABMeeting, pk=pk)
        if not self.has_view_or_change_permission(request, meeting):
            raise PermissionDenied
        return meeting

    def board_view(self, request, pk):
        """The board page: the agenda as cards, decisions in place, what was decided, minutes, attendees."""
        meeting = self._meeting_for(request, pk)
        agenda = _agenda_items(selectors.cab_agenda(meeting), request.user)
        decided = _agenda_items(selectors.cab_decided(meeting), request.user)
        attendees = list(meeting.attendees.order_by("last_name", "first_name", "username"))
        can_manage = request.user.has_perm(services.board.MANAGE_MEETINGS_PERM)
        context = {
            **self.admin_site.each_context(request),
            "is_nav_sidebar_enabled": False,  # the agenda needs the width
            "opts": self.model._meta,
            "title": f"{meeting}: the board",
            "meeting": meeting,
            "agenda": agenda,
            "decided": decided,
            "attendees": attendees,
            "can_manage": can_manage,
            "minutes_form": CABMinutesForm(initial={"minutes": meeting.minutes, "attendees": attendees})
            if can_manage else None,
            "my_roles": selectors.approver_roles_of(request.user),
            "decision_approved": Decision.APPROVED,
            "decision_rejected": Decision.REJECTED,
        }
        return TemplateResponse(request, "admin/changes/cabmeeting/board.html", context)

    def _back(self, meeting, anchor=""):
        url = reverse("admin:changes_cabmeeting_board", args=[meeting.pk])
        return HttpResponseRedirect(url + (f"#{anchor}" if anchor else ""))

    def decide_view(self, request, pk, change_pk):
        """POST ``decision`` (approved|rejected), ``comment``, ``role``: ``services.cab_decide``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        meeting = self._meeting_for(request, pk)
        change = get_object_or_404(ChangeRequest, pk=change_pk)
        decision = request.POST.get("decision", "")
        verb = "approved" if decision == Decision.APPROVED else "rejected"
        run_action(
            request,
            lambda: services.cab_decide(
                meeting=meeting, change=change, by=request.user, decision=decision,
                comment=request.POST.get("comment", ""), role=request.POST.get("role") or None,
            ),
            success=f"You {verb} {change.number}.",
        )
        return self._back(meeting, f"change-{change.pk}")

    def minutes_view(self, request, pk):
        """POST the minutes and attendees (Change Managers): ``services.cab_record_minutes``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        meeting = self._meeting_for(request, pk)
        form = CABMinutesForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The minutes were not saved: " + " ".join(
                error for errors in form.errors.values() for error in errors
            ))
            return self._back(meeting, "minutes")
        run_action(
            request,
            lambda: services.cab_record_minutes(
                meeting=meeting, by=request.user, minutes=form.cleaned_data["minutes"],
                attendees=form.cleaned_data["attendees"],
            ),
            success="Minutes saved.",
        )
        return self._back(meeting, "minutes")


class CABMinutesForm(forms.Form):
    minutes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField"}))
    attendees = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("last_name", "first_name", "username"),
        required=False, widget=forms.CheckboxSelectMultiple,
    )


@admin.register(CalendarFeedToken)
class CalendarFeedTokenAdmin(ReadOnlyAdmin):
    """Every user's calendar feed tokens (only a hash is stored); revoke through the action."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    list_select_related = ["user"]
    actions = ["revoke"]
    exclude = ["key_hash"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("revoke", None)
        return actions

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.feed_token_revoke(token=token, by=request.user)
            revoked += 1
        messages.success(request, f"{revoked} feed token(s) revoked.")
