"""``recurring_incidents_to_change``: one change per recurring service, collecting incidents while open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from automation import services as automation_services
from automation.models import AutomationRule, AutomationRun
from changes.models import ChangeRequest
from incidents import services as incident_services
from opsdesk.models import Notification, TransitionLog
from opsdesk.workflow import apply_transition
from tests.factories import ServiceFactory

from .conftest import run_together, runs

pytestmark = pytest.mark.django_db

RULE = "recurring_incidents_to_change"


@pytest.fixture(autouse=True)
def _only_this_rule(rules_off):
    rules_off("auto_assign")


def log(service, minutes_ago=0, *, by=None, **fields):
    """An incident logged through the service (so the rule runs), detected ``minutes_ago``."""
    fields.setdefault("title", "Checkout fails")
    fields.setdefault("severity", "medium")
    return incident_services.incident_create(
        by=by, service=service, detected_at=timezone.now() - timedelta(minutes=minutes_ago), **fields
    )


def test_third_incident_opens_one_draft_change(service, team):
    first, second = log(service, 60 * 24 * 5), log(service, 60 * 24 * 2)
    assert not ChangeRequest.objects.exists()
    assert runs(RULE) == []  # not recurring yet: nothing to record
    third = log(service)
    change = ChangeRequest.objects.get()
    assert (change.state, change.change_type, change.title) == ("draft", "normal", "Recurring incidents on Checkout")
    assert (change.requester, change.implementer, change.created_by_rule) == (team.lead, team, RULE)
    assert list(change.services.all()) == [service]
    assert set(change.incidents.all()) == {first, second, third}
    numbers = f"{first.number}, {second.number} and {third.number}"
    assert change.description == (
        f"3 incidents on Checkout within 7 days ({numbers}). Find the underlying problem and plan a fix."
    )
    created = TransitionLog.objects.get(object_id=change.pk, transition="create")
    assert created.user is None and RULE in created.comment
    run = AutomationRun.objects.get(rule__key=RULE)
    assert (run.outcome, run.event, run.subject_number) == ("acted", "incident.created", third.number)
    assert [(r.action, r.number) for r in run.records.all()] == [("created", change.number)]


def test_the_team_is_told_by_email_and_webhook(service):
    for minutes in (30, 20, 10):
        log(service, minutes)
    change = ChangeRequest.objects.get()
    rows = Notification.objects.filter(object_id=change.pk, subject__contains="recurring incidents")
    assert set(rows.values_list("channel", "recipient")) == {
        ("email", "payments@example.test"), ("webhook", "https://chat.example.test/hooks/payments"),
    }


def test_later_incidents_attach_to_the_open_change_in_every_open_state(service):
    for minutes in (40, 30, 20):
        log(service, minutes)
    change = ChangeRequest.objects.get()
    for state in ("draft", "submitted", "approved", "in_progress", "verifying"):
        ChangeRequest.objects.filter(pk=change.pk).update(state=state)
        later = log(service)
        assert later in change.incidents.all(), state
        assert runs(RULE)[-1] == (
            "acted", f"Attached {later.number} to {change.number}, the open change for recurring incidents on "
            f"Checkout ({ChangeRequest.State(state).label.lower()}).",
        )
    assert ChangeRequest.objects.count() == 1
    assert change.incidents.count() == 8
    assert TransitionLog.objects.filter(object_id=change.pk, transition="link_incidents").count() == 5


@pytest.mark.parametrize("closed", ["completed", "failed", "rolled_back", "rejected", "cancelled"])
def test_a_closed_change_no_longer_collects(service, closed):
    for minutes in (40, 30, 20):
        log(service, minutes)
    first = ChangeRequest.objects.get()
    ChangeRequest.objects.filter(pk=first.pk).update(state=closed)
    log(service)
    second = ChangeRequest.objects.exclude(pk=first.pk).get()
    assert second.incidents.count() == 4  # the window still holds the three and the new one
    assert first.incidents.count() == 3


def test_cancelled_incidents_do_not_count(service):
    first = log(service, 50)
    apply_transition(instance=first, name="cancel", by=None, reason="duplicate")
    log(service, 40)
    log(service, 30)
    assert not ChangeRequest.objects.exists()
    log(service, 20)
    assert first not in ChangeRequest.objects.get().incidents.all()


def test_incidents_outside_the_window_or_on_other_services_do_not_count(service):
    log(service, 60 * 24 * 7 + 1)
    log(ServiceFactory(), 10)
    log(service, 60)
    log(service)
    assert not ChangeRequest.objects.exists()


def test_params_come_from_the_rule_and_apply_to_the_next_event(service):
    rule = AutomationRule.objects.get(key=RULE)
    automation_services.rule_update(rule=rule, by=None, params={"count": 2, "days": 1})
    log(service, 60 * 25)
    log(service, 60)  # the one 25 h ago is outside one day: still one
    assert not ChangeRequest.objects.exists()
    log(service)
    assert ChangeRequest.objects.get().incidents.count() == 2
    assert "2 incidents on Checkout within 1 days" in ChangeRequest.objects.get().description


def test_without_a_team_lead_the_run_fails_and_the_incident_is_kept(service, team):
    get_user_model().objects.create_superuser("root", "root@example.test", "pw")  # not a stand-in requester
    team.lead.is_active = False
    team.lead.save()
    for minutes in (3, 2, 1):
        last = log(service, minutes)
    assert not ChangeRequest.objects.exists()
    assert type(last).objects.filter(pk=last.pk).exists()
    assert runs(RULE) == [(
        "failed", "No one can request the change for recurring incidents on Checkout: its team Payments has no "
        "active lead. Give the service an owner team with a lead.",
    )]


def test_a_service_without_owner_team_fails_with_its_reason(db):
    orphan = ServiceFactory(name="Legacy FTP", owner_team=None)
    for minutes in (3, 2, 1):
        log(orphan, minutes)
    assert runs(RULE) == [(
        "failed", "No one can request the change for recurring incidents on Legacy FTP: no team owns it. "
        "Give the service an owner team with a lead.",
    )]


def test_a_disabled_rule_does_nothing_until_enabled(service):
    rule = AutomationRule.objects.get(key=RULE)
    automation_services.rule_update(rule=rule, by=None, enabled=False)
    for minutes in (3, 2, 1):
        log(service, minutes)
    assert not ChangeRequest.objects.exists() and runs(RULE) == []
    automation_services.rule_update(rule=rule, by=None, enabled=True)
    log(service)
    assert ChangeRequest.objects.get().incidents.count() == 4


# --- confidentiality (§6) --------------------------------------------------------------------


def test_generated_text_never_names_a_confidential_incident(service, incident_manager, api_client, api_reader):
    public = log(service, 30)
    secret = log(service, 20, by=incident_manager, confidential=True, title="Suspicious logins")
    third = log(service, 10)
    change = ChangeRequest.objects.get()
    assert secret.number not in change.description
    assert change.description.startswith(f"3 incidents on Checkout within 7 days ({public.number}, {third.number} "
                                         "and 1 confidential incident)")
    for row in Notification.objects.filter(object_id=change.pk):
        assert secret.number not in row.body and secret.number not in row.subject
    later_secret = log(service, by=incident_manager, confidential=True, title="Malware alert")
    attached = TransitionLog.objects.get(object_id=change.pk, transition="link_incidents")
    assert later_secret.number not in attached.comment and "a confidential incident" in attached.comment
    # An API Readers user sees the change without the confidential incidents' numbers or ids.
    body = api_client(api_reader).get(f"/api/v1/changes/{change.pk}/").json()
    assert secret.number not in str(body) and later_secret.number not in str(body)
    assert set(body["incidents"]) == {public.pk, third.pk}
    assert api_client(api_reader).get(f"/api/v1/incidents/{secret.pk}/").status_code == 404


# --- concurrency (PostgreSQL) ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_incidents_logged_at_once_on_one_service_make_one_change(rules_off):
    from tests.factories import TeamFactory

    rules_off("auto_assign")
    service = ServiceFactory(owner_team=TeamFactory())
    log(service, 60)
    log(service, 50)
    errors = run_together(lambda: log(service, 2), lambda: log(service, 1))
    assert errors == []
    change = ChangeRequest.objects.get()
    assert change.incidents.count() == 4
    outcomes = sorted(outcome for outcome, _ in runs(RULE))
    assert outcomes == ["acted", "acted"]  # one opened the change, the other attached to it
