"""Web forms of the incident pages. They only shape input; the services hold the rules.

Each form collects what one service needs (``incident_create``, ``incident_update``,
``incident_transition``, ``incident_change_severity``, ``incident_escalate``,
``incident_add_note``); the views call the service and map its
``DomainValidationError`` back onto the form with ``opsdesk.web.add_domain_errors``.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from opsdesk.selectors import active_services, active_teams
from opsdesk.widgets import Select as FastSelect

from .choices import CancelReason, IncidentState, Severity, StatusAudience
from .models import Incident

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

TITLE_MESSAGES = {
    "required": "Give the incident a short title.",
    "max_length": "Keep the title to %(limit_value)d characters (it has %(show_value)d).",
}


class UserChoiceField(forms.ModelChoiceField):
    """Users shown by full name, with the username for the ambiguous cases."""

    def label_from_instance(self, obj) -> str:
        full_name = obj.get_full_name()
        return f"{full_name} ({obj.username})" if full_name else obj.username


def active_users():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def local_now_minute():
    """Now in the site's time zone, to the minute (what a datetime-local input shows)."""
    return timezone.localtime(timezone.now()).replace(second=0, microsecond=0)


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date-and-time picker; values are read in the site's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_LOCAL_FORMAT)


class IncidentCreateForm(forms.Form):
    """The service desk's quick form: what broke, how badly, since when, for whom."""

    title = forms.CharField(
        max_length=200,
        error_messages=TITLE_MESSAGES,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Checkout returns 502 for EU customers", "autofocus": True}),
    )
    service = forms.ModelChoiceField(
        queryset=active_services(),
        empty_label="Choose the affected service…",
        error_messages={
            "required": "Choose the affected service.",
            "invalid_choice": "That service does not exist; choose one from the list.",
        },
    )
    severity = forms.ChoiceField(
        choices=[("", "Choose a severity…"), *Severity.choices],
        error_messages={
            "required": "Choose a severity.",
            "invalid_choice": "Choose a severity: critical, high, medium or low.",
        },
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "What do users see? What have you checked?"}),
    )
    started_at = forms.DateTimeField(
        label="Impact started",
        required=False,
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_LOCAL_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        error_messages={"invalid": "Enter a date and time, e.g. 2026-03-14 09:30."},
        help_text="When users were first affected (site time). Leave as now if unknown.",
    )
    customers_affected = forms.IntegerField(
        min_value=0,
        initial=0,
        required=False,
        error_messages={
            "min_value": "Customers affected cannot be negative.",
            "invalid": "Enter a whole number of customers (0 if unknown).",
        },
    )
    team = forms.ModelChoiceField(
        queryset=active_teams(),
        required=False,
        empty_label="The service's owner team",
        help_text="Assignment group; by default the team that owns the service.",
        error_messages={"invalid_choice": "That team does not exist; choose one from the list."},
    )
    confidential = forms.BooleanField(
        required=False,
        label="Confidential (security incident)",
        help_text="Only Incident Managers, the incident's team and you will see it.",
    )
    caller_name = forms.CharField(
        required=False, max_length=200, label="Caller",
        help_text="The person affected who reported it (optional).",
    )
    caller_email = forms.EmailField(
        required=False, label="Caller's email",
        error_messages={"invalid": "Enter a valid email address for the caller."},
        help_text="Gets the satisfaction survey when the incident is resolved.",
    )
    major = forms.BooleanField(
        required=False, label="Major incident",
        help_text="Stakeholder updates every 30 minutes and a banner on every page while it is open.",
    )

    def __init__(self, *args, now=None, can_declare_major: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # detected_at is the moment the form is submitted; the view passes it in.
        self.now = now or timezone.now()
        self.fields["started_at"].initial = local_now_minute
        if not can_declare_major:
            del self.fields["major"]

    def clean_customers_affected(self) -> int:
        value = self.cleaned_data.get("customers_affected")
        return 0 if value is None else value

    def clean_started_at(self):
        started_at = self.cleaned_data.get("started_at")
        if started_at is not None and started_at > self.now:
            raise forms.ValidationError(
                "Impact cannot start in the future (or after the incident is detected, which is now)."
            )
        return started_at

    def service_kwargs(self) -> dict:
        """The keyword arguments of ``incident_create`` (besides ``by``)."""
        data = self.cleaned_data
        return {
            "title": data["title"].strip(),
            "service": data["service"],
            "severity": data["severity"],
            "description": data.get("description", "").strip(),
            "started_at": data.get("started_at"),
            "detected_at": self.now,
            "customers_affected": data["customers_affected"],
            "confidential": data.get("confidential", False),
            "team": data.get("team"),
            "caller_name": data.get("caller_name", "").strip(),
            "caller_email": data.get("caller_email", "").strip(),
            "major": bool(data.get("major", False)),
        }


class IncidentEditForm(forms.Form):
    """The non-state fields anyone with ``change_incident`` may edit."""

    title = forms.CharField(max_length=200, error_messages=TITLE_MESSAGES)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    team = forms.ModelChoiceField(
        queryset=active_teams(),
        required=False,
        empty_label="No team",
        error_messages={"invalid_choice": "That team does not exist; choose one from the list."},
    )
    assignee = UserChoiceField(
        queryset=active_users(),
        required=False,
        empty_label="Unassigned",
        error_messages={"invalid_choice": "That user does not exist or is inactive; choose one from the list."},
    )
    customers_affected = forms.IntegerField(
        min_value=0,
        error_messages={
            "required": "Enter the number of customers affected (0 if unknown).",
            "min_value": "Customers affected cannot be negative.",
            "invalid": "Enter a whole number of customers (0 if unknown).",
        },
    )
    confidential = forms.BooleanField(
        required=False,
        label="Confidential (security incident)",
        help_text="Only Incident Managers, the incident's team and its reporter will see it.",
    )

    caller_name = forms.CharField(required=False, max_length=200, label="Caller")
    caller_email = forms.EmailField(
        required=False, label="Caller's email",
        error_messages={"invalid": "Enter a valid email address for the caller."},
    )

    FIELDS = ("title", "description", "team", "assignee", "customers_affected", "confidential", "caller_name",
              "caller_email")

    def __init__(self, *args, incident: Incident, **kwargs):
        initial = {name: getattr(incident, name) for name in self.FIELDS}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["team"].queryset = active_teams(keep=[incident.team_id])  # an archived team stays
        self.incident = incident
        # The team's members and lead (whoever is assigned now stays a choice, to be kept or changed).
        from .services import assignable_users

        people = Q(pk__in=assignable_users(incident).values("pk"))
        if incident.assignee_id:
            people |= Q(pk=incident.assignee_id)
        self.fields["assignee"].queryset = get_user_model().objects.filter(people).order_by(
            "first_name", "last_name", "username"
        )
        self.fields["assignee"].help_text = (
            f"Members of {incident.team}." if incident.team_id else "Anyone active (the incident has no team)."
        )

    def changed_fields(self) -> dict:
        """Only what the user changed, so the service logs real edits."""
        data = self.cleaned_data
        changes = {}
        for name in self.FIELDS:
            value = data.get(name)
            if isinstance(value, str):
                value = value.strip()
            if value != getattr(self.incident, name):
                changes[name] = value
        return changes


class SeverityForm(forms.Form):
    """Change the severity; deadlines are recomputed from ``detected_at``."""

    severity = forms.ChoiceField(
        choices=Severity.choices,
        error_messages={
            "required": "Choose the new severity.",
            "invalid_choice": "Choose a severity: critical, high, medium or low.",
        },
    )
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why the severity changes (optional)"}),
    )

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, initial={"severity": incident.severity}, **kwargs)
        self.incident = incident


class EscalateForm(forms.Form):
    """Escalate by hand to the next tier."""

    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why escalate (optional)"}),
    )


class NoteForm(forms.Form):
    """A work note on the timeline."""

    body = forms.CharField(
        label="Work note",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What was found, tried, decided…"}),
        error_messages={"required": "Write the note before adding it."},
    )


class TransitionForm(forms.Form):
    """Every transition carries the state the user saw and an optional comment.

    Subclasses add the fields their transition needs; ``transition_fields()``
    returns them as the keyword arguments of ``incident_transition``.
    """

    expected_state = forms.ChoiceField(choices=IncidentState.choices, widget=forms.HiddenInput)
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Comment for the timeline (optional)"}),
    )

    extra_fields: tuple[str, ...] = ()

    def __init__(self, *args, incident: Incident, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("expected_state", incident.state)
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.order_fields([*self.extra_fields, "comment"])

    def transition_fields(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in self.extra_fields}


class ResolveForm(TransitionForm):
    """Resolve: say how service was restored: one text, the resolution summary, which is also
    the timeline's comment (no second "comment" box)."""

    comment = None
    resolution_summary = forms.CharField(
        required=False,  # the model says what is missing, once
        widget=forms.Textarea(attrs={"rows": 3, "required": True, "placeholder": "How was service restored?"}),
    )
    extra_fields = ("resolution_summary",)

    def __init__(self, *args, incident: Incident, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("expected_state", incident.state)
        forms.Form.__init__(self, *args, **kwargs)
        self.incident = incident


class CloseForm(TransitionForm):
    """Close after the post-incident review."""

    root_cause = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "required": True}))
    lessons_learned = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "required": True}))
    preventive_measures = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    extra_fields = ("root_cause", "lessons_learned", "preventive_measures")

    def transition_fields(self) -> dict:
        fields = super().transition_fields()
        if not fields["preventive_measures"]:
            del fields["preventive_measures"]  # optional: keep what is already recorded
        return fields


class CancelForm(TransitionForm):
    """Cancel: not a real incident."""

    reason = forms.ChoiceField(
        choices=[("", "Choose a reason…"), *CancelReason.choices],
        required=False,  # the model says a reason is needed, once
        widget=forms.Select(attrs={"required": True}),
        error_messages={"invalid_choice": "Choose a reason: false alarm, duplicate or other."},
    )
    extra_fields = ("reason",)


TRANSITION_FORMS: dict[str, type[TransitionForm]] = {
    "resolve": ResolveForm,
    "close": CloseForm,
    "cancel": CancelForm,
}


def transition_form_class(name: str) -> type[TransitionForm]:
    """The form of transition ``name`` (a plain comment form when it needs nothing else)."""
    return TRANSITION_FORMS.get(name, TransitionForm)


def style_queue_filters(form, *, assignees: list | None = None) -> None:
    """Dress the ``IncidentFilterSet`` form for the queue page (widgets and labels only).

    ``assignees``: the people who work incidents as ``(pk, person)`` (``incident_worker_names``),
    already read for the page (the bulk form lists them too); the assignee list is written from
    them instead of a second query. Services and teams are listed from their names alone."""
    fields = form.fields
    if "state" in fields:
        fields["state"].widget = forms.CheckboxSelectMultiple(choices=fields["state"].choices)
        fields["state"].label = "State"
    if "breached" in fields:
        fields["breached"].widget = forms.Select(
            choices=[("", "Any SLA"), ("true", "Breached"), ("false", "Within SLA")]
        )
        fields["breached"].label = "SLA"
    for name in ("detected_after", "detected_before"):
        if name in fields:
            fields[name].widget = DateTimeLocalInput()
    if "detected_after" in fields:
        fields["detected_after"].label = "Detected from"
    if "detected_before" in fields:
        fields["detected_before"].label = "Detected before"
    if "q" in fields:
        fields["q"].widget.attrs.update({"placeholder": "Number, title or description", "type": "search"})
    for name, empty in (("severity", "Any severity"), ("service", "Any service"), ("team", "Any team"),
                        ("assignee", "Anyone")):
        field = fields.get(name)
        if field is None:
            continue
        if hasattr(field, "empty_label"):
            field.empty_label = empty
        if name == "assignee":
            # The queue offers the people who work incidents (the API filter takes any active user).
            from .selectors import incident_workers_by_name

            field.queryset = incident_workers_by_name()
            field.label_from_instance = UserChoiceField.label_from_instance.__get__(field)
        if name == "severity":
            # Choices set anew put the new ``empty_label`` first (django-filter adds it): not one of our own.
            field.choices = Severity.choices
    # Hundreds of services and people: options rendered in Python, not one template each.
    for name in ("severity", "service", "team", "assignee", "breached"):
        field = fields.get(name)
        if field is not None and type(field.widget) is forms.Select:
            fast = FastSelect(attrs=field.widget.attrs)
            fast.choices = field.widget.choices
            empty = [("", field.empty_label)] if getattr(field, "empty_label", None) is not None else []
            if name == "assignee" and assignees is not None:
                fast.choices = [*empty, *((pk, field.label_from_instance(person)) for pk, person in assignees)]
            elif name in ("service", "team"):  # a service's and a team's label is its name
                fast.choices = [*empty, *field.queryset.values_list("pk", "name")]
            fast.is_required = field.widget.is_required
            field.widget = fast


# --- the incident process (§2.1) ------------------------------------------------------


class StepCompleteForm(forms.Form):
    """Complete a checklist step, with an optional note."""

    note = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Note (optional)"})
    )


class StepSkipForm(forms.Form):
    """Skip an optional step: say why."""

    reason = forms.CharField(
        max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Why skip it?"}),
        error_messages={"required": "Say why the step is skipped."},
    )


class ReviewForm(forms.Form):
    """The post-incident review's fields (``incident_update``)."""

    root_cause = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    lessons_learned = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    preventive_measures = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    FIELDS = ("root_cause", "lessons_learned", "preventive_measures")

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, initial={name: getattr(incident, name) for name in self.FIELDS}, **kwargs)
        self.incident = incident

    def changed_fields(self) -> dict:
        return {
            name: self.cleaned_data[name].strip()
            for name in self.FIELDS
            if self.cleaned_data[name].strip() != getattr(self.incident, name)
        }


class ActionItemForm(forms.Form):
    """A new action item: what, who, by when."""

    title = forms.CharField(max_length=200, error_messages={"required": "Say what is to be done."})
    owner = UserChoiceField(
        queryset=active_users(), empty_label="Owner…",
        error_messages={"required": "Choose who owns the item.",
                        "invalid_choice": "That user does not exist or is inactive; choose one from the list."},
    )
    due_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Give a due date.", "invalid": "Enter a date, e.g. 2026-03-20."},
    )

    def __init__(self, *args, owners=None, **kwargs):
        super().__init__(*args, **kwargs)
        if owners is not None:
            self.fields["owner"].queryset = owners


class ActionItemCloseForm(forms.Form):
    """Complete (optional note) or cancel (reason) an action item."""

    note = forms.CharField(required=False, max_length=2000)


class StatusUpdateForm(forms.Form):
    """A status update: internal, or emailed to the service's stakeholders."""

    body = forms.CharField(
        label="Status update",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What is known, what is being done, when the next update comes"}
        ),
        error_messages={"required": "Write the update."},
    )
    audience = forms.ChoiceField(choices=StatusAudience.choices, initial=StatusAudience.INTERNAL,
                                 widget=forms.RadioSelect)

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        if incident.confidential:
            self.fields["audience"].choices = [(StatusAudience.INTERNAL, StatusAudience.INTERNAL.label)]
            self.fields["audience"].help_text = "A confidential incident's updates stay internal."
        else:
            addresses = incident.service.stakeholder_addresses()
            self.fields["audience"].help_text = (
                f"Stakeholders: emailed to {', '.join(addresses)}." if addresses
                else f"{incident.service} has no stakeholder addresses: a stakeholder update is recorded, not emailed."
            )


class DeclareMajorForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000)


class BulkActionForm(forms.Form):
    """The queue's bulk actions on the ticked incidents; each runs through its service."""

    ACTIONS = [
        ("assign_to_me", "Assign to me"),
        ("assign", "Assign to…"),
        ("acknowledge", "Acknowledge"),
        ("severity", "Change severity to…"),
    ]
    incident = forms.TypedMultipleChoiceField(
        coerce=int, error_messages={"required": "Tick at least one incident first."}
    )
    action = forms.ChoiceField(
        choices=[("", "Bulk action…"), *ACTIONS],
        error_messages={"required": "Choose a bulk action.", "invalid_choice": "Choose a bulk action from the list."},
    )
    assignee = UserChoiceField(queryset=None, required=False, empty_label="Assignee…")
    severity = forms.ChoiceField(choices=[("", "Severity…"), *Severity.choices], required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from .selectors import incident_workers_by_name

        self.fields["assignee"].queryset = incident_workers_by_name()
        self.fields["assignee"].label_from_instance = lambda obj: obj.get_full_name() or obj.username
        self.fields["incident"].choices = [(value, value) for value in self.data.getlist("incident")] if hasattr(
            self.data, "getlist") else []

    def clean_incident(self):
        return [pk for pk in self.cleaned_data["incident"] if pk > 0]

    def clean(self):
        data = super().clean()
        if data.get("action") == "assign" and not data.get("assignee"):
            self.add_error("assignee", "Choose whom to assign the incidents to.")
        if data.get("action") == "severity" and not data.get("severity"):
            self.add_error("severity", "Choose the new severity.")
        return data
