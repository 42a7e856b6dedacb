"""The incident web forms: every validation message, the time zone of datetime-local, the kwargs they build."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from incidents.filtersets import IncidentFilterSet
from incidents.forms import (
    CancelForm,
    CloseForm,
    IncidentCreateForm,
    IncidentEditForm,
    ResolveForm,
    TransitionForm,
    style_queue_filters,
    transition_form_class,
)
from incidents.models import Incident
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def svc():
    return ServiceFactory(name="Checkout", slug="checkout")


def create_form(data, now=NOW):
    return IncidentCreateForm(data, now=now)


def valid_data(svc, **overrides):
    data = {
        "title": "Checkout returns 502",
        "service": str(svc.pk),
        "severity": "high",
        "description": "EU customers only.",
        "started_at": "2026-03-14T09:30",
        "customers_affected": "120",
    }
    data.update(overrides)
    return data


def test_create_form_happy_path_builds_the_service_kwargs(svc):
    team = TeamFactory(name="Payments")
    form = create_form(valid_data(svc, team=str(team.pk), confidential="on", title="  Checkout 502  "))
    assert form.is_valid(), form.errors
    assert form.service_kwargs() == {
        "title": "Checkout 502",
        "service": svc,
        "severity": "high",
        "description": "EU customers only.",
        "started_at": datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
        "detected_at": NOW,
        "customers_affected": 120,
        "confidential": True,
        "team": team,
        "caller_name": "",
        "caller_email": "",
        "major": False,
    }


def test_create_form_optional_fields_default(svc):
    form = create_form({"title": "x", "service": str(svc.pk), "severity": "low"})
    assert form.is_valid(), form.errors
    kwargs = form.service_kwargs()
    assert kwargs["started_at"] is None  # the service defaults it to detected_at
    assert kwargs["customers_affected"] == 0
    assert kwargs["confidential"] is False
    assert kwargs["team"] is None  # the service defaults it to the owner team
    assert kwargs["description"] == ""


def test_started_at_is_read_in_the_site_time_zone(svc, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    form = create_form(valid_data(svc, started_at="2026-03-14T09:30"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["started_at"] == datetime(2026, 3, 14, 8, 30, tzinfo=UTC)


def test_started_at_initial_is_now_in_the_site_time_zone_to_the_minute(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(datetime(2026, 3, 14, 10, 7, 42, tzinfo=UTC), tick=False):
        form = IncidentCreateForm()
        html = str(form["started_at"])
    assert 'type="datetime-local"' in html
    assert 'value="2026-03-14T11:07"' in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "Give the incident a short title."),
        ({"title": "x" * 201}, "title", "Keep the title to 200 characters (it has 201)."),
        ({"service": ""}, "service", "Choose the affected service."),
        ({"service": "999999"}, "service", "That service does not exist; choose one from the list."),
        ({"service": "abc"}, "service", "That service does not exist; choose one from the list."),
        ({"severity": ""}, "severity", "Choose a severity."),
        ({"severity": "urgent"}, "severity", "Choose a severity: critical, high, medium or low."),
        ({"started_at": "yesterday"}, "started_at", "Enter a date and time, e.g. 2026-03-14 09:30."),
        (
            {"started_at": "2026-03-14T10:01"},
            "started_at",
            "Impact cannot start in the future (or after the incident is detected, which is now).",
        ),
        ({"customers_affected": "-1"}, "customers_affected", "Customers affected cannot be negative."),
        ({"customers_affected": "many"}, "customers_affected", "Enter a whole number of customers (0 if unknown)."),
        ({"customers_affected": "1.5"}, "customers_affected", "Enter a whole number of customers (0 if unknown)."),
        ({"team": "999999"}, "team", "That team does not exist; choose one from the list."),
    ],
)
def test_create_form_rejects_bad_input_with_a_clear_message(svc, overrides, field, message):
    form = create_form(valid_data(svc, **overrides))
    assert not form.is_valid()
    assert form.errors[field] == [message]
    assert list(form.errors) == [field]


def test_title_of_exactly_200_characters_is_fine(svc):
    assert create_form(valid_data(svc, title="x" * 200)).is_valid()


def test_started_at_equal_to_detection_is_fine(svc):
    assert create_form(valid_data(svc, started_at="2026-03-14T10:00")).is_valid()


def test_edit_form_reports_only_changed_fields():
    incident = IncidentFactory(title="Old", customers_affected=5)
    other = UserFactory(first_name="Ana", last_name="Lopez")
    incident.team.members.add(other)  # the assignee choices are the team's members
    data = {
        "title": "New title ",
        "description": incident.description,
        "team": str(incident.team.pk),
        "assignee": str(other.pk),
        "customers_affected": "5",
    }
    form = IncidentEditForm(data, incident=incident)
    assert form.is_valid(), form.errors
    assert form.changed_fields() == {"title": "New title", "assignee": other}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": ""}, "title", "Give the incident a short title."),
        ({"customers_affected": "-3"}, "customers_affected", "Customers affected cannot be negative."),
        ({"customers_affected": ""}, "customers_affected", "Enter the number of customers affected (0 if unknown)."),
        ({"assignee": "999999"}, "assignee", "That user does not exist or is inactive; choose one from the list."),
    ],
)
def test_edit_form_messages(overrides, field, message):
    incident = IncidentFactory()
    data = {"title": "t", "customers_affected": "0", **overrides}
    form = IncidentEditForm(data, incident=incident)
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_edit_form_offers_no_inactive_users():
    inactive = UserFactory(is_active=False)
    form = IncidentEditForm(incident=IncidentFactory())
    assert inactive not in form.fields["assignee"].queryset


def test_transition_forms_carry_the_state_seen_and_the_fields_they_need():
    incident = IncidentFactory()
    assert transition_form_class("acknowledge") is TransitionForm
    assert transition_form_class("resolve") is ResolveForm
    assert transition_form_class("close") is CloseForm
    assert transition_form_class("cancel") is CancelForm
    form = ResolveForm(incident=incident)
    assert form["expected_state"].value() == Incident.State.DETECTED
    assert list(form.fields) == ["expected_state", "resolution_summary"]  # one text: no separate comment


def test_resolve_form_passes_the_summary_even_when_empty():
    form = ResolveForm({"expected_state": "detected", "resolution_summary": ""}, incident=IncidentFactory())
    assert form.is_valid()
    assert form.transition_fields() == {"resolution_summary": ""}


def test_close_form_omits_empty_preventive_measures():
    incident = IncidentFactory()
    form = CloseForm(
        {"expected_state": "resolved", "root_cause": "Pool", "lessons_learned": "Alert"}, incident=incident
    )
    assert form.is_valid()
    assert form.transition_fields() == {"root_cause": "Pool", "lessons_learned": "Alert"}
    form = CloseForm(
        {"expected_state": "resolved", "root_cause": "a", "lessons_learned": "b", "preventive_measures": "c"},
        incident=incident,
    )
    assert form.is_valid()
    assert form.transition_fields()["preventive_measures"] == "c"


def test_cancel_form_names_the_valid_reasons():
    form = CancelForm({"expected_state": "detected", "reason": "bored"}, incident=IncidentFactory())
    assert not form.is_valid()
    assert form.errors["reason"] == ["Choose a reason: false alarm, duplicate or other."]


def test_transition_form_rejects_an_unknown_expected_state():
    form = TransitionForm({"expected_state": "exploded"}, incident=IncidentFactory())
    assert not form.is_valid()
    assert "expected_state" in form.errors


def test_queue_filter_form_is_dressed_for_the_page():
    filterset = IncidentFilterSet({}, queryset=Incident.objects.all())
    style_queue_filters(filterset.form)
    fields = filterset.form.fields
    assert fields["state"].widget.__class__.__name__ == "CheckboxSelectMultiple"
    assert fields["breached"].label == "SLA"
    assert fields["service"].empty_label == "Any service"
    assert fields["severity"].choices[0] == ("", "Any severity")
    user = UserFactory(first_name="Ana", last_name="Lopez", username="alopez")
    assert fields["assignee"].label_from_instance(user) == "Ana Lopez (alopez)"


def test_edit_form_offers_the_teams_members_as_assignees():
    incident = IncidentFactory()
    member, lead, outsider = UserFactory(), UserFactory(), UserFactory()
    incident.team.members.add(member)
    incident.team.lead = lead
    incident.team.save()
    choices = set(IncidentEditForm(incident=incident).fields["assignee"].queryset)
    assert {member, lead} <= choices
    assert outsider not in choices
    form = IncidentEditForm({"title": incident.title, "team": str(incident.team.pk), "assignee": str(outsider.pk),
                             "customers_affected": "0"}, incident=incident)
    assert not form.is_valid() and "assignee" in form.errors
