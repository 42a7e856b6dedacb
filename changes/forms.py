"""Web forms of the change pages: the draft's plans, a transition, a board decision.

Forms check only the shape of the input (types, required fields, the window's
order); every business rule lives in ``changes/services.py`` and comes back as
a ``DomainValidationError`` that the view puts on the form.
"""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Fieldset, Layout, Row, Submit
from django import forms
from django.db.models import Q
from django.utils import timezone

from opsdesk.selectors import active_services, active_teams

from .choices import RISK_QUESTIONS, ApprovalRole, ChangeState, Complexity, UserImpact
from .models import ChangeRequest, StandardChangeTemplate

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

# The fields of a draft that the change manager writes (the service sets the rest).
PLAN_FIELDS = [
    "title",
    "description",
    "change_type",
    "template",
    "services",
    "planned_start",
    "planned_end",
    "implementer",
    "impact_assessment",
    "business_justification",
    "implementation_plan",
    "testing_plan",
    "rollback_plan",
]

# Transitions a change manager takes from the detail page, in the order of the buttons.
PAGE_TRANSITIONS = ("submit", "start", "verify", "complete", "fail", "roll_back", "cancel")
OUTCOME_TRANSITIONS = ("complete", "fail", "roll_back")


class DateTimeLocalInput(forms.DateTimeInput):
    """``<input type="datetime-local">``, shown in the site's time zone (Django converts)."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_LOCAL_FORMAT)


def _textarea(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


_BOOLEAN_CHOICES = [("", "— answer —"), ("yes", "Yes"), ("no", "No")]


class RiskQuestionnaireMixin(forms.Form):
    """The five questions of the risk score (§3.1), as form fields ``risk_<key>``, and the override.

    Used by the change form and the admin's change form, so both ask the same questions.
    """

    risk_user_impact = forms.ChoiceField(
        label=RISK_QUESTIONS["user_impact"][0], required=False,
        choices=[("", "— answer —"), *UserImpact.choices],
    )
    risk_complexity = forms.ChoiceField(
        label=RISK_QUESTIONS["complexity"][0], required=False, choices=[("", "— answer —"), *Complexity.choices],
    )
    risk_tested_in_staging = forms.ChoiceField(
        label=RISK_QUESTIONS["tested_in_staging"][0], required=False, choices=_BOOLEAN_CHOICES
    )
    risk_rollback_tested = forms.ChoiceField(
        label=RISK_QUESTIONS["rollback_tested"][0], required=False, choices=_BOOLEAN_CHOICES
    )
    risk_outage_required = forms.ChoiceField(
        label=RISK_QUESTIONS["outage_required"][0], required=False, choices=_BOOLEAN_CHOICES
    )
    risk_override = forms.ChoiceField(
        label="Override the risk", required=False,
        choices=[("", "No: the score decides"), ("low", "Low"), ("medium", "Medium"), ("high", "High")],
        help_text="Change Managers only, with a reason (logged).",
    )
    risk_override_reason = forms.CharField(
        label="Reason for the override", required=False, widget=forms.Textarea(attrs={"rows": 2}),
    )

    def initial_risk(self, instance) -> None:
        answers = instance.risk_answers if instance is not None and isinstance(instance.risk_answers, dict) else {}
        for key in RISK_QUESTIONS:
            value = answers.get(key)
            self.initial.setdefault(
                f"risk_{key}", {True: "yes", False: "no"}.get(value, value) if value is not None else ""
            )
        if instance is not None and instance.risk_override_reason:
            self.initial.setdefault("risk_override", instance.risk)
            self.initial.setdefault("risk_override_reason", instance.risk_override_reason)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("risk_override") and not (cleaned.get("risk_override_reason") or "").strip():
            self.add_error("risk_override_reason", "Say why the risk differs from the score.")
        return cleaned

    def risk_fields(self) -> dict:
        """``risk_answers``, ``risk_override_reason`` and (when overriding) ``risk`` for the services."""
        answers = {}
        for key, (_question, allowed) in RISK_QUESTIONS.items():
            value = self.cleaned_data.get(f"risk_{key}")
            if value in (None, ""):
                continue
            answers[key] = {"yes": True, "no": False}[value] if True in allowed else value
        data = {"risk_answers": answers, "risk_override_reason": (self.cleaned_data.get("risk_override_reason") or "")}
        if self.cleaned_data.get("risk_override"):
            data["risk"] = self.cleaned_data["risk_override"]
        else:
            data["risk_override_reason"] = ""
        return data


class ChangeRequestForm(RiskQuestionnaireMixin, forms.ModelForm):
    """The plans of a draft change (create and edit)."""

    services = forms.ModelMultipleChoiceField(
        queryset=active_services(),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Hold Ctrl (⌘ on a Mac) to pick several services.",
        error_messages={"required": "Pick at least one service the change touches."},
    )
    implementer = forms.ModelChoiceField(
        queryset=active_teams(), required=False, label="Implementer team",
        help_text="The team that carries out the change.",
    )
    template = forms.ModelChoiceField(
        queryset=StandardChangeTemplate.objects.filter(active=True).order_by("name"),
        required=False,
        label="Standard change template",
        help_text="Required for a standard change; picking one fills empty plans from it.",
    )
    planned_start = forms.DateTimeField(
        required=False, widget=DateTimeLocalInput(), input_formats=[DATETIME_LOCAL_FORMAT, "%Y-%m-%d %H:%M"],
    )
    planned_end = forms.DateTimeField(
        required=False, widget=DateTimeLocalInput(), input_formats=[DATETIME_LOCAL_FORMAT, "%Y-%m-%d %H:%M"],
    )

    class Meta:
        model = ChangeRequest
        fields = PLAN_FIELDS
        widgets = {
            "description": _textarea(3),
            "impact_assessment": _textarea(3),
            "business_justification": _textarea(3),
            "implementation_plan": _textarea(4),
            "testing_plan": _textarea(3),
            "rollback_plan": _textarea(3),
        }
        help_texts = {
            "testing_plan": "Required to submit.",
            "rollback_plan": "Required to submit.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.template_id:
            # Keep a template that was retired after the draft picked it.
            self.fields["template"].queryset = StandardChangeTemplate.objects.filter(
                Q(active=True) | Q(pk=self.instance.template_id)
            ).order_by("name")
        if self.instance.pk:
            # Archived services and teams a draft already names stay choosable; others are gone.
            self.fields["services"].queryset = active_services(keep=self.instance.services.values_list("pk", flat=True))
            self.fields["implementer"].queryset = active_teams(keep=[self.instance.implementer_id])
        self.initial_risk(self.instance if self.instance.pk else None)
        tz_name = timezone.get_current_timezone_name()
        self.fields["planned_start"].help_text = f"Site time ({tz_name})."
        self.fields["planned_end"].help_text = f"Site time ({tz_name}); must be after the start."
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                "What and why",
                "title",
                "description",
                Row(Column("change_type", css_class="col-md-6"), Column("template", css_class="col-md-6")),
            ),
            Fieldset(
                "Where and when",
                Row(Column("services", css_class="col-md-6"), Column("implementer", css_class="col-md-6")),
                Row(Column("planned_start", css_class="col-md-6"), Column("planned_end", css_class="col-md-6")),
            ),
            Fieldset(
                "Risk questionnaire",
                HTML('<p class="small text-body-secondary mb-2">The answers, the services\' criticality and '
                     'their failed or rolled-back changes of the last 180 days make the risk score '
                     '(low &lt; 35 ≤ medium &lt; 65 ≤ high). Unanswered questions count their highest points.</p>'),
                Row(Column("risk_user_impact", css_class="col-md-4"), Column("risk_complexity", css_class="col-md-4"),
                    Column("risk_outage_required", css_class="col-md-4")),
                Row(Column("risk_tested_in_staging", css_class="col-md-4"),
                    Column("risk_rollback_tested", css_class="col-md-4"),
                    Column("risk_override", css_class="col-md-4")),
                "risk_override_reason",
            ),
            Fieldset(
                "Assessment",
                Row(Column("impact_assessment", css_class="col-md-6"),
                    Column("business_justification", css_class="col-md-6")),
            ),
            Fieldset(
                "Plans",
                "implementation_plan",
                Row(Column("testing_plan", css_class="col-md-6"), Column("rollback_plan", css_class="col-md-6")),
            ),
            Div(
                Submit("save", "Save draft", css_class="btn-primary"),
                HTML('<a class="btn btn-outline-secondary ms-2" href="{{ cancel_url }}">Cancel</a>'),
                css_class="mt-3",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("planned_start"), cleaned.get("planned_end")
        if start and end and start >= end:
            self.add_error("planned_end", "The planned end must be after the planned start.")
        return cleaned

    def service_fields(self) -> dict:
        """The cleaned values as keyword arguments for change_create / change_update."""
        data = {name: self.cleaned_data[name] for name in PLAN_FIELDS}
        data["services"] = list(data["services"])
        data.update(self.risk_fields())
        return data


class TransitionForm(forms.Form):
    """One transition button: the name, the state the user saw, an optional comment."""

    name = forms.ChoiceField(choices=[(n, n) for n in PAGE_TRANSITIONS])
    expected_state = forms.ChoiceField(choices=ChangeState.choices)
    comment = forms.CharField(required=False, max_length=2000)
    post_implementation_review = forms.CharField(required=False)

    def service_fields(self) -> dict:
        """Keyword arguments for change_transition (the review only for outcome transitions)."""
        data = {
            "name": self.cleaned_data["name"],
            "expected_state": self.cleaned_data["expected_state"],
            "comment": self.cleaned_data["comment"].strip(),
        }
        review = self.cleaned_data["post_implementation_review"].strip()
        if data["name"] in OUTCOME_TRANSITIONS and review:
            data["post_implementation_review"] = review
        return data


class DecisionForm(forms.Form):
    """A board member's approval or rejection in one of their roles."""

    role = forms.ChoiceField(choices=ApprovalRole.choices, required=False)
    comment = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, require_comment: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.require_comment = require_comment

    def clean_comment(self):
        comment = self.cleaned_data["comment"].strip()
        if self.require_comment and not comment:
            raise forms.ValidationError("Say why you reject the change (a comment is required).")
        return comment
