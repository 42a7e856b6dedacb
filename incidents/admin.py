"""Incident admin: the list, the form and transition buttons — every write through the services.

django-fsm-2's ``FSMAdminMixin`` draws the buttons, but applies a POSTed
transition without checking permission or writing the log; here its
``_apply_fsm_transition`` is replaced by ``incident_transition`` (permission,
visibility, state, log, notifications). resolve/close/cancel ask for their
fields on a form first.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_fsm.admin import FSMAdminMixin

from opsdesk.admin import ReadOnlyAdmin
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.workflow import transition_history

from . import calendars, services, sla
from .choices import OPEN_STATES, WEEKDAY_KEYS, CancelReason
from .models import (
    ActionItem,
    BusinessCalendar,
    Incident,
    IncidentNote,
    IncidentStep,
    ProcessTemplate,
    SatisfactionSurvey,
    SLAPolicy,
    StatusUpdate,
)
from .selectors import incidents_visible_to, process_rows_visible_to, sla_state

CREATE_FIELDS = list(services.CREATE_FIELDS)

SYSTEM_FIELDS = [
    "number",
    "state",
    "reporter",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "response_due",
    "resolution_due",
    "follow_up_due",
    "response_breached",
    "response_breached_at",
    "resolution_breached",
    "resolution_breached_at",
    "response_warned_at",
    "resolution_warned_at",
    "response_warning_due",
    "resolution_warning_due",
    "working_time_to_resolve",
    "escalation_level",
    "time_on_hold",
    "on_hold_since",
    "cancel_reason",
    "sla_summary",
    "transition_log",
    *services.PROCESS_FIELDS,
]


class TransitionForm(forms.Form):
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ResolveForm(TransitionForm):
    field_order = ["resolution_summary", "comment"]
    resolution_summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="How was it resolved?")


class CloseForm(TransitionForm):
    field_order = ["root_cause", "lessons_learned", "preventive_measures", "comment"]
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    lessons_learned = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    preventive_measures = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CancelForm(TransitionForm):
    field_order = ["reason", "comment"]
    reason = forms.ChoiceField(choices=CancelReason.choices)


class IncidentAdminForm(forms.ModelForm):
    """Runs the service's field rules so a bad value is a form error, never a 500."""

    class Meta:
        model = Incident
        fields = list(services.EDITABLE_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "started_at" in self.fields:
            self.fields["started_at"].required = False
            self.fields["started_at"].help_text = "When impact began; defaults to the detection time."
        if "detected_at" in self.fields:
            self.fields["detected_at"].required = False

    def clean(self):
        cleaned = super().clean()
        candidate = Incident(
            title=cleaned.get("title", self.instance.title or ""),
            severity=cleaned.get("severity", self.instance.severity),
            service=cleaned.get("service") or getattr(self.instance, "service", None),
            detected_at=cleaned.get("detected_at") or self.instance.detected_at or timezone.now(),
            customers_affected=cleaned.get("customers_affected", self.instance.customers_affected),
        )
        candidate.started_at = cleaned.get("started_at") or candidate.detected_at
        try:
            services.validate_incident_fields(candidate)
        except DomainValidationError as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, error)
        return cleaned

    def _post_clean(self):
        if not self.instance.pk:
            # The service fills in started_at, the team and the deadlines; skip model checks here.
            return
        super()._post_clean()


class IncidentNoteInline(admin.TabularInline):
    """Work notes, read-only here (added from the incident page or the API)."""

    model = IncidentNote
    extra = 0
    fields = ["created_at", "author", "body"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Process records shown on the incident, written from the incident page or the API only."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class IncidentStepInline(ReadOnlyInline):
    model = IncidentStep
    fields = readonly_fields = ["phase", "title", "required", "state", "done_at", "done_by", "auto", "note"]


class ActionItemInline(ReadOnlyInline):
    model = ActionItem
    fields = readonly_fields = ["title", "owner", "due_date", "state", "change", "closed_at"]


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    fields = readonly_fields = ["created_at", "audience", "author", "body"]


@admin.register(Incident)
class IncidentAdmin(FSMAdminMixin, admin.ModelAdmin):
    form = IncidentAdminForm
    fsm_fields = ["state"]
    fsm_forms = {"resolve": ResolveForm, "close": CloseForm, "cancel": CancelForm}
    fsm_transition_success_msg = "{transition_name}: done."
    list_display = [
        "number",
        "title",
        "severity",
        "state",
        "service",
        "team",
        "assignee",
        "detected_at",
        "response_breached",
        "resolution_breached",
        "escalation_level",
        "confidential",
    ]
    list_filter = [
        "state",
        "severity",
        "response_breached",
        "resolution_breached",
        "escalation_level",
        "confidential",
        "major",
        "detection_breached",
        "follow_up_breached",
        "service",
        "team",
    ]
    search_fields = ["number", "title", "description"]
    list_select_related = ["service", "team", "assignee"]
    date_hierarchy = "detected_at"
    inlines = [IncidentNoteInline, StatusUpdateInline, ActionItemInline, IncidentStepInline]
    autocomplete_fields = ["assignee"]
    fieldsets = [
        (None, {"fields": ["number", "state", "title", "description", "severity", "service", "team", "assignee",
                           "reporter", "confidential", "customers_affected", "caller_name", "caller_email"]}),
        ("Process", {"fields": list(services.PROCESS_FIELDS)}),
        ("Times", {"fields": ["started_at", "detected_at", "acknowledged_at", "resolved_at", "closed_at"]}),
        ("SLA", {"fields": ["sla_summary", "response_due", "resolution_due", "follow_up_due", "response_breached",
                            "response_breached_at", "resolution_breached", "resolution_breached_at",
                            "response_warned_at", "resolution_warned_at", "escalation_level", "time_on_hold",
                            "on_hold_since"]}),
        ("Resolution and review", {"fields": ["resolution_summary", "root_cause", "lessons_learned",
                                              "preventive_measures", "cancel_reason"]}),
        ("Causes", {"fields": ["caused_by_release", "caused_by_change"]}),
        ("Transition log", {"fields": ["transition_log"]}),
    ]
    add_fieldsets = [(None, {"fields": CREATE_FIELDS})]

    # --- queryset and form --------------------------------------------------------

    def get_queryset(self, request):
        return incidents_visible_to(request.user).select_related("service", "team", "assignee", "reporter")

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else [IncidentNoteInline]  # a new incident has no process records

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = list(SYSTEM_FIELDS)
        if obj.state not in OPEN_STATES and obj.state != Incident.State.RESOLVED:
            readonly += [f for f in services.EDITABLE_FIELDS if f not in readonly]
        elif not request.user.has_perm("incidents.change_severity_incident"):
            readonly.append("severity")
        return readonly

    def has_delete_permission(self, request, obj=None):
        return False  # incidents are records: cancel instead

    @admin.display(description="SLA")
    def sla_summary(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        state = sla_state(obj)

        def fmt(clock):
            if clock.remaining_seconds is None:
                return "-"
            minutes = int(abs(clock.remaining_seconds) // 60)
            return f"{clock.status}, {minutes} min {'left' if clock.remaining_seconds >= 0 else 'over'}"

        return format_html(
            "<strong>{}</strong> — response: {}; resolution: {}{}",
            state.status,
            fmt(state.response),
            fmt(state.resolution),
            f" ({state.paused_text})" if state.paused else "",
        )

    @admin.display(description="Transitions")
    def transition_log(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(e.timestamp).strftime("%Y-%m-%d %H:%M"),
                    e.transition,
                    e.from_state,
                    e.to_state,
                    e.user or "system",
                    e.comment,
                )
                for e in transition_history(obj)
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Transition</th><th>States</th><th>By</th><th>Comment</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows or "",
        )

    # --- writes through the services --------------------------------------------

    def save_model(self, request, obj, form, change):
        try:
            if change:
                fields = {
                    name: form.cleaned_data[name]
                    for name in form.changed_data
                    if name in services.EDITABLE_FIELDS
                }
                saved = services.incident_update(incident=obj, by=request.user, **fields)
            else:
                fields = {name: form.cleaned_data.get(name) for name in CREATE_FIELDS}
                fields["customers_affected"] = fields["customers_affected"] or 0
                fields["confidential"] = bool(fields["confidential"])
                fields["description"] = fields["description"] or ""
                fields["major"] = bool(fields.get("major"))
                fields["caller_name"] = fields.get("caller_name") or ""
                fields["caller_email"] = fields.get("caller_email") or ""
                saved = services.incident_create(by=request.user, **fields)
        except (DomainValidationError, TransitionNotAllowed, ConcurrentUpdate) as exc:
            self.message_user(request, getattr(exc, "message", str(exc)), level=messages.ERROR)
            return
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})
        obj._state.adding = False

    def get_fsm_label(self, transition) -> str:
        return transition.custom.get("label") or transition.name.replace("_", " ").capitalize()

    def get_help_text(self, transition) -> str:
        """The transition method's docstring, shown as the button's tooltip."""
        method = getattr(self.model, transition.name, None)
        doc = (getattr(method, "__doc__", None) or "").strip()
        return transition.custom.get("help_text") or (doc.splitlines()[0] if doc else "")

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None) -> bool:
        kwargs = dict(kwargs or {})
        comment = kwargs.pop("comment", "")
        try:
            services.incident_transition(
                instance=obj,
                name=transition_name,
                by=request.user,
                comment=comment,
                expected_state=obj.state,
                **kwargs,
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc) or "You may not do that.", level=messages.ERROR)
            return False
        except (TransitionNotAllowed, ConcurrentUpdate) as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return False
        except DomainValidationError as exc:
            self.message_user(
                request, " ".join(" ".join(v) for v in exc.errors.values()), level=messages.ERROR
            )
            return False
        self.message_user(
            request, self.fsm_transition_success_msg.format(transition_name=transition_name), messages.SUCCESS
        )
        return True


class SLAPolicyForm(forms.ModelForm):
    class Meta:
        model = SLAPolicy
        fields = ["response_time", "resolution_time", "notification_level", "warning_threshold", "calendar",
                  "detection_time", "follow_up_time"]

    def clean(self):
        cleaned = super().clean()
        for name in ("response_time", "resolution_time", "detection_time", "follow_up_time"):
            value = cleaned.get(name)
            if value is not None and value <= timedelta(0):
                self.add_error(name, "Give a time longer than zero.")
        return cleaned


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    """One policy per severity (seeded): targets, level, warning threshold and calendar.

    Saving goes through ``sla_policy_update``, which re-times the open incidents of
    that severity (the list's inline edits too).
    """

    form = SLAPolicyForm
    list_display = ["severity", "response_time", "resolution_time", "notification_level", "warning_threshold",
                    "calendar", "detection_time", "follow_up_time"]
    list_editable = ["response_time", "resolution_time", "notification_level", "warning_threshold", "calendar",
                     "detection_time", "follow_up_time"]
    list_select_related = ["calendar"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in calendars.POLICY_FIELDS}
        try:
            calendars.sla_policy_update(policy=obj, by=request.user, **fields)
        except (DomainValidationError, PermissionDenied) as exc:
            self.message_user(request, getattr(exc, "message", str(exc)), level=messages.ERROR)


WEEKDAY_LABELS = dict(zip(WEEKDAY_KEYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                       "Sunday"), strict=True))


def _hours_text(intervals) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def _holidays_text(holidays) -> str:
    return "\n".join(h if isinstance(h, str) else f"{h[0]}..{h[1]}" for h in holidays or [])


def _day_field(key: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(label=WEEKDAY_LABELS[key], required=False, help_text=help_text)


class BusinessCalendarForm(forms.ModelForm):
    """Hours as one line per weekday ("09:00-12:00, 13:00-18:00"), holidays one per line
    ("2026-12-25" or "2026-12-28..2026-12-31"); the service checks and normalises them."""

    time_zone = forms.ChoiceField(choices=(), help_text="IANA time zone the hours are in.")
    holidays_text = forms.CharField(
        label="Holidays", required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One per line: a date (2026-12-25) or a range (2026-12-28..2026-12-31).",
    )

    hours_mon = _day_field("mon", help_text="e.g. 09:00-12:00, 13:00-18:00 (24:00 for midnight); empty: not worked.")
    hours_tue = _day_field("tue")
    hours_wed = _day_field("wed")
    hours_thu = _day_field("thu")
    hours_fri = _day_field("fri")
    hours_sat = _day_field("sat")
    hours_sun = _day_field("sun")

    class Meta:
        model = BusinessCalendar
        fields = ["name", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(sla.time_zones())]
        if not self.instance.pk:
            self.initial.setdefault("time_zone", settings.TIME_ZONE)
        for key in WEEKDAY_KEYS:
            self.initial.setdefault(f"hours_{key}", _hours_text((self.instance.hours or {}).get(key)))
        self.initial.setdefault("holidays_text", _holidays_text(self.instance.holidays))

    def clean(self):
        cleaned = super().clean()
        hours = {}
        for key in WEEKDAY_KEYS:
            text = (cleaned.get(f"hours_{key}") or "").strip()
            if text:
                hours[key] = [[p.strip() for p in part.split("-", 1)] if "-" in part else [part.strip(), ""]
                              for part in text.split(",") if part.strip()]
        holidays = []
        for line in (cleaned.get("holidays_text") or "").splitlines():
            line = line.strip()
            if line:
                holidays.append([p.strip() for p in line.split("..", 1)] if ".." in line else line)
        cleaned["hours"], cleaned["holidays"] = hours, holidays
        try:
            sla.parse_calendar(time_zone=cleaned.get("time_zone"), hours=hours, holidays=holidays)
        except sla.CalendarError as exc:
            for message in exc.errors.get("hours", []):
                day = message.split(":", 1)[0]
                self.add_error(f"hours_{day}" if day in WEEKDAY_KEYS else None, message)
            for message in exc.errors.get("holidays", []):
                self.add_error("holidays_text", message)
            for message in exc.errors.get("time_zone", []):
                self.add_error("time_zone", message)
        return cleaned


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    """Business-hours calendars SLA policies count in; writes through the services."""

    form = BusinessCalendarForm
    list_display = ["name", "time_zone", "week", "used_by"]
    search_fields = ["name"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "time_zone"]}),
            ("Working hours", {"fields": [f"hours_{key}" for key in WEEKDAY_KEYS]}),
            ("Holidays", {"fields": ["holidays_text"]}),
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("policies")

    @admin.display(description="Week")
    def week(self, obj):
        return "; ".join(f"{key} {_hours_text(obj.hours.get(key))}" for key in WEEKDAY_KEYS if obj.hours.get(key))

    @admin.display(description="Used by")
    def used_by(self, obj):
        return ", ".join(p.get_severity_display() for p in obj.policies.all()) or "-"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {"name": data["name"], "time_zone": data["time_zone"], "hours": data["hours"],
                  "holidays": data["holidays"]}
        if change:
            saved = calendars.calendar_update(calendar=obj, by=request.user, **fields)
        else:
            saved = calendars.calendar_create(by=request.user, **fields)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def delete_model(self, request, obj):
        calendars.calendar_delete(calendar=obj, by=request.user)


@admin.register(IncidentNote)
class IncidentNoteAdmin(admin.ModelAdmin):
    """Work notes (read-only; confidential incidents' notes only for those who may see them)."""

    list_display = ["incident", "author", "created_at"]
    search_fields = ["incident__number", "body"]
    list_select_related = ["incident", "author"]
    readonly_fields = ["incident", "author", "body", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(incident__in=incidents_visible_to(request.user))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the incident process (§2.1) ----------------------------------------------------------


@admin.register(ProcessTemplate)
class ProcessTemplateAdmin(admin.ModelAdmin):
    """The checklist every new incident gets. Changes apply to incidents logged afterwards;
    steps are switched off (``active``), never deleted, so old checklists keep their meaning."""

    list_display = ["position", "phase", "key", "title", "required", "active"]
    list_display_links = ["key"]
    list_editable = ["position", "title", "required", "active"]
    list_filter = ["phase", "required", "active"]
    ordering = ["position", "id"]

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False


class ProcessRecordAdmin(ReadOnlyAdmin):
    """Read-only, and only the rows of incidents the user may see (§6): confidential ones stay hidden."""

    def get_queryset(self, request):
        return process_rows_visible_to(self.model, request.user).select_related(*self.list_select_related)


@admin.register(IncidentStep)
class IncidentStepAdmin(ProcessRecordAdmin):
    list_display = ["incident", "phase", "title", "required", "state", "done_at", "done_by", "auto"]
    list_filter = ["phase", "state", "required", "auto", "key"]
    search_fields = ["incident__number", "title", "note"]
    list_select_related = ["incident", "done_by"]
    readonly_fields = ["incident", "phase", "key", "title", "required", "position", "state", "done_at", "done_by",
                       "auto", "note"]


@admin.register(ActionItem)
class ActionItemAdmin(ProcessRecordAdmin):
    list_display = ["title", "incident", "owner", "due_date", "state", "change", "reminded_at"]
    list_filter = ["state", "due_date"]
    search_fields = ["incident__number", "title", "owner__username"]
    list_select_related = ["incident", "owner", "change"]
    readonly_fields = ["incident", "title", "owner", "due_date", "state", "change", "created_by", "created_at",
                       "closed_at", "closed_by", "note", "reminded_at"]


@admin.register(StatusUpdate)
class StatusUpdateAdmin(ProcessRecordAdmin):
    list_display = ["incident", "audience", "author", "created_at"]
    list_filter = ["audience"]
    search_fields = ["incident__number", "body"]
    list_select_related = ["incident", "author"]
    readonly_fields = ["incident", "audience", "author", "body", "created_at"]


@admin.register(SatisfactionSurvey)
class SatisfactionSurveyAdmin(ProcessRecordAdmin):
    """Surveys and their answers, read-only; those of confidential incidents only for who may see them."""

    list_display = ["incident", "recipient", "sent_at", "rating", "answered_at"]
    list_filter = ["answer__rating", "sent_at"]
    search_fields = ["incident__number", "recipient", "answer__comment"]
    list_select_related = ["incident", "answer"]
    readonly_fields = ["incident", "recipient", "sent_at", "rating", "comment", "answered_at"]
    date_hierarchy = "sent_at"

    def _answer(self, obj):
        return getattr(obj, "answer", None)

    @admin.display(description="rating", ordering="answer__rating")
    def rating(self, obj):
        answer = self._answer(obj)
        return f"{answer.rating}/5" if answer else "—"

    @admin.display(description="comment")
    def comment(self, obj):
        answer = self._answer(obj)
        return answer.comment if answer else ""

    @admin.display(description="answered at", ordering="answer__answered_at")
    def answered_at(self, obj):
        answer = self._answer(obj)
        return answer.answered_at if answer else None
