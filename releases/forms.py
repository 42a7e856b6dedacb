"""Web forms of the release pages. They check the shape of the input; the rules live in
``releases/services.py`` and come back as ``DomainValidationError`` put on the form."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from opsdesk.choices import Role
from opsdesk.selectors import active_services

from .choices import CheckKind, DeliverableKind, DeploymentStatus

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    """``<input type="datetime-local">`` in the site's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_LOCAL_FORMAT)


def release_managers():
    return get_user_model().objects.filter(groups__name=Role.RELEASE_MANAGERS, is_active=True).order_by(
        "username"
    )


class ReleaseForm(forms.Form):
    """Create or edit a release."""

    name = forms.CharField(max_length=200)
    version = forms.CharField(max_length=50, required=False)
    services = forms.ModelMultipleChoiceField(
        queryset=active_services(), widget=forms.SelectMultiple(attrs={"size": 6})
    )
    release_manager = forms.ModelChoiceField(queryset=None, required=False)
    planned_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["release_manager"].queryset = release_managers()
        current = (self.initial or {}).get("services") or []
        self.fields["services"].queryset = active_services(keep=[getattr(s, "pk", s) for s in current])
        self.fields["release_manager"].label_from_instance = lambda u: u.get_full_name() or u.username


class DeliverableForm(forms.Form):
    """Add a deliverable: content or a link."""

    kind = forms.ChoiceField(choices=DeliverableKind.choices)
    content = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    link = forms.URLField(required=False, assume_scheme="https")

    def clean(self):
        data = super().clean()
        if not data.get("content", "").strip() and not data.get("link") and "link" not in self.errors:
            raise forms.ValidationError("Give the deliverable's content or a link to it.")
        return data


class DeploymentForm(forms.Form):
    """Record a deployment; a finished one needs its finish time."""

    environment = forms.CharField(max_length=50, widget=forms.TextInput(attrs={"placeholder": "production"}))
    status = forms.ChoiceField(choices=DeploymentStatus.choices, initial=DeploymentStatus.RUNNING)
    started_at = forms.DateTimeField(required=False, widget=DateTimeLocalInput(), help_text="Default: now.")
    finished_at = forms.DateTimeField(required=False, widget=DateTimeLocalInput())


class DeploymentStatusForm(forms.Form):
    """Finish a running deployment."""

    status = forms.ChoiceField(choices=[(s.value, s.label) for s in DeploymentStatus if s != "running"])
    finished_at = forms.DateTimeField(required=False, widget=DateTimeLocalInput(), help_text="Default: now.")


class CheckForm(forms.Form):
    """Record a verification check (recording it again replaces the result)."""

    kind = forms.ChoiceField(choices=CheckKind.choices)
    passed = forms.TypedChoiceField(
        choices=[("true", "Passed"), ("false", "Failed")], coerce=lambda v: v == "true", label="Result"
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TransitionForm(forms.Form):
    """A transition button: the state the user saw and an optional comment."""

    expected_state = forms.CharField(widget=forms.HiddenInput())
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1, "class": "form-control"}))
