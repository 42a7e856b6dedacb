"""The change advisory board's screen (SPEC §3): the change list, decisions, transitions.

Every write goes through ``changes.services``: creating and editing drafts,
the board's approve/reject (buttons on the change page, actions on the list),
and the other transitions (buttons). Nobody approves by editing a field: the
state, the timestamps and the approval history are read-only here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from opsdesk.admin import ReadOnlyAdmin
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.web import add_domain_errors, run_action

from . import selectors, services
from .choices import ApprovalRole, ChangeState, ChangeType
from .models import ChangeApproval, ChangeFreeze, ChangeRequest, StandardChangeTemplate

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


def decidable_roles(change: ChangeRequest, user) -> list[ApprovalRole]:
    """The roles ``user`` could decide ``change`` in now (uses prefetched approvals)."""
    if change.state != ChangeState.SUBMITTED or change.requester_id == user.pk:
        return []
    if any(approval.approver_id == user.pk for approval in change.approvals.all()):
        return []
    pending = selectors.pending_roles(change)
    return [role for role in selectors.approver_roles_of(user) if role in pending]


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


class ChangeRequestAdminForm(forms.ModelForm):
    """Shows the services' draft rules as field errors."""

    class Meta:
        model = ChangeRequest
        fields = list(services.EDITABLE_FIELDS)

    def _post_clean(self):
        super()._post_clean()
        if self.instance.pk and self.instance.state != ChangeState.DRAFT and self.changed_data:
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
    list_display = [
        "number", "title", "change_type", "risk", "state", "planned_window", "conflicts",
        "approvals_so_far", "in_freeze",
    ]
    list_display_links = ["number", "title"]
    list_filter = [AwaitingMyApprovalFilter, "state", "change_type", "risk", "in_freeze"]
    search_fields = ["number", "title", "description"]
    list_select_related = ["requester"]
    list_per_page = 50
    date_hierarchy = "planned_start"
    autocomplete_fields = ["services", "implementer", "template"]
    raw_id_fields = ["incidents", "release"]
    inlines = [ChangeApprovalInline]
    actions = ["approve_in_my_role", "reject_selected"]
    fieldsets = [
        (None, {"fields": ["number", "title", "description", "change_type", "risk", "template", "services",
                           "implementer"]}),
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
        "actual_end", "created_at", "updated_at",
    ]

    # --- list ---------------------------------------------------------------------------

    def get_queryset(self, request):
        return selectors.with_conflicts_count(super().get_queryset(request)).prefetch_related(
            Prefetch("approvals", queryset=ChangeApproval.objects.order_by("decided_at", "id"))
        )

    @admin.display(description="Planned window", ordering="planned_start")
    def planned_window(self, obj):
        if not obj.planned_start or not obj.planned_end:
            return "—"
        start, end = timezone.localtime(obj.planned_start), timezone.localtime(obj.planned_end)
        end_format = "%H:%M" if start.date() == end.date() else "%Y-%m-%d %H:%M"
        return f"{start:%Y-%m-%d %H:%M} – {end.strftime(end_format)}"

    @admin.display(description="Conflicts", ordering="conflicts_count")
    def conflicts(self, obj):
        count = getattr(obj, "conflicts_count", 0)
        if not count:
            return "0"
        return format_html('<strong style="color:#ba2121">⚠ {}</strong>', count)

    @admin.display(description="Approvals")
    def approvals_so_far(self, obj):
        return selectors.approval_summary(obj)

    # --- form -----------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None):
        return False  # a change is cancelled, never deleted

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.state != ChangeState.DRAFT:
            return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]
        return list(self.process_fields)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(name, {"fields": [f for f in opts["fields"] if f not in self.process_fields]})
                    for name, opts in self.fieldsets]
        return self.fieldsets

    def save_model(self, request, obj, form, change):
        """Create or edit through the services (drafts only)."""
        fields = {
            name: (list(value) if name in ("services", "incidents") else value)
            for name, value in form.cleaned_data.items()
            if name in services.EDITABLE_FIELDS and (not change or name in form.changed_data)
        }
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
            if change.state != ChangeState.DRAFT:
                context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, extra_context=context)

    def board_context(self, request, change: ChangeRequest) -> dict:
        """What the board panel at the top of the change page shows."""
        change = ChangeRequest.objects.prefetch_related("approvals").get(pk=change.pk)
        transitions = change.available_transitions_for(request.user)
        return {
            "board_conflicts": list(selectors.change_conflicts(change)),
            "board_freezes": list(selectors.freezes_covering(change)),
            "board_change": change,
            "board_roles": decidable_roles(change, request.user),
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
            roles = decidable_roles(change, request.user)
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
                roles = decidable_roles(change, request.user)
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
    """Freeze windows: no standard or normal change may be submitted inside one."""

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

