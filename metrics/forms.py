"""The dashboard's period and filter form (GET)."""

from __future__ import annotations

from datetime import date, timedelta

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms

from incidents.choices import Severity
from opsdesk.models import Service, Team

PRESET_DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DASHBOARD_DAYS = 731


class DashboardForm(forms.Form):
    """A preset (last 7/30/90 days, today included) or a custom ``[from, to)``, and filters."""

    days = forms.TypedChoiceField(
        choices=[(d, f"Last {d} days") for d in PRESET_DAYS], coerce=int, required=False,
        widget=forms.HiddenInput,
    )
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label="To (excluded)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    service = forms.ModelChoiceField(queryset=Service.objects.all(), required=False, empty_label="All services")
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label="All teams")
    severity = forms.ChoiceField(choices=[("", "All severities"), *Severity.choices], required=False)

    def __init__(self, *args, today: date, **kwargs):
        data = args[0] if args else kwargs.get("data")
        if data is not None:
            # The query string names the period "from" and "to", as the API does.
            data = data.copy()
            for outer, inner in (("from", "start"), ("to", "end")):
                if outer in data and inner not in data:
                    data[inner] = data[outer]
            args = (data, *args[1:])
        super().__init__(*args, **kwargs)
        self.today = today
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_tag = True
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(
                Column("start", css_class="col-sm-6 col-lg-2"),
                Column("end", css_class="col-sm-6 col-lg-2"),
                Column("service", css_class="col-sm-4 col-lg-3"),
                Column("team", css_class="col-sm-4 col-lg-2"),
                Column("severity", css_class="col-sm-4 col-lg-2"),
                Column(Submit("apply", "Show", css_class="mt-lg-4"), css_class="col-lg-1"),
            )
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            days = data.get("days") or DEFAULT_DAYS
            end = self.today + timedelta(days=1)
            start = end - timedelta(days=days)
        elif start is None or end is None:
            raise forms.ValidationError("Give both dates of a custom period, or pick a preset.")
        if start >= end:
            self.add_error("end", "The period must end after it starts (the 'to' day is excluded).")
        elif (end - start).days > MAX_DASHBOARD_DAYS:
            self.add_error("end", f"The dashboard shows at most {MAX_DASHBOARD_DAYS} days.")
        data["start"], data["end"] = start, end
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "service": data["service"].pk if data.get("service") else None,
            "team": data["team"].pk if data.get("team") else None,
            "severity": data.get("severity") or None,
        }
