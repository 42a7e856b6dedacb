"""Form fields written in Python (``opsdesk.fields``) are crispy's bootstrap5 fields, byte for byte."""

from __future__ import annotations

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms

from incidents.filtersets import IncidentFilterSet
from incidents.forms import style_queue_filters
from incidents.models import Incident
from opsdesk import fields
from opsdesk.choices import Role
from opsdesk.widgets import Select
from tests.factories import ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


def queue_filters(data):
    form = IncidentFilterSet(data, queryset=Incident.objects.all()).form
    style_queue_filters(form)
    return form


def crispy(field) -> str:
    """crispy's rendering of ``field``, on a copy of its widget (crispy adds classes to the widget it renders)."""
    field.field.widget = field.field.widget.__deepcopy__({})
    return str(as_crispy_field(field))


@pytest.mark.parametrize("data", [
    None,
    {},
    {"q": 'disk "full" <b>', "severity": "high", "breached": "true", "state": ["detected", "on_hold"],
     "detected_after": "2026-03-01T10:00", "detected_before": "2026-03-14T09:30"},
])
def test_the_queue_filters_are_written_as_crispy_writes_them(data, user_in_role):
    team = TeamFactory(name="Ops & <Infra>")
    service = ServiceFactory(name='Checkout "main"')
    person = user_in_role(Role.SERVICE_DESK, username="zoe", first_name="Zoë", last_name="<Ng>")
    if data:
        data = data | {"service": str(service.pk), "team": str(team.pk), "assignee": str(person.pk)}
    form = queue_filters(data)
    if data:
        assert form.is_valid(), form.errors
    for name in form.fields:
        bound = form[name]
        assert fields.is_plain(bound), name  # written in Python, not crispy's fallback
        assert str(fields.field_html(bound)) == crispy(queue_filters(data)[name]), name


def test_fields_with_errors_help_or_required_are_crispys():
    class Other(forms.Form):
        when = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
        name = forms.CharField(help_text="Your <name>", required=False)
        kind = forms.ChoiceField(choices=[("a", "A"), ("b", "B")])
        colour = forms.ChoiceField(choices=[("r", "Red")], required=False, widget=Select)

    form = Other({"when": "garbage", "name": "x", "colour": "r"})
    assert not form.is_valid()
    assert [name for name in form.fields if fields.is_plain(form[name])] == ["colour"]
    for name in form.fields:
        fresh = Other({"when": "garbage", "name": "x", "colour": "r"})
        assert str(fields.field_html(form[name])) == crispy(fresh[name])
    assert "is-invalid" in str(fields.field_html(form["when"]))
