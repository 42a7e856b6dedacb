"""The ``alert_to_incident`` rule as automation: switched off, failing, handling an event twice."""

from __future__ import annotations

import pytest

from alerts.models import Alert, AlertGroup
from automation.models import AutomationRule, AutomationRun
from incidents.models import Incident, SLAPolicy
from opsdesk import events

from .test_ingest import firing_payload, resolved_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def am(make_source, service):
    return make_source("alertmanager")


def test_switched_off_the_alerts_are_stored_without_incident_and_get_one_when_it_is_back(clock, am, send, rules_off):
    _, token = am
    rules_off("alert_to_incident")
    answer = send("alertmanager", token, firing_payload()).json()
    assert answer == {"incidents": [], "alerts": 1}
    assert Alert.objects.get().incident is None and not Incident.objects.exists()
    AutomationRule.objects.filter(key="alert_to_incident").update(enabled=True)
    answer = send("alertmanager", token, firing_payload()).json()  # Alertmanager repeats firing alerts
    assert answer == {"incidents": [Incident.objects.get().number], "alerts": 1}


def test_a_failing_rule_keeps_the_alerts_and_says_why(clock, am, send):
    _, token = am
    SLAPolicy.objects.filter(severity="critical").delete()
    response = send("alertmanager", token, firing_payload())
    assert response.status_code == 202
    assert response.json() == {"incidents": [], "alerts": 1}
    assert Alert.objects.get().status == "firing"
    run = AutomationRun.objects.get(rule__key="alert_to_incident")
    assert (run.outcome, run.detail) == ("failed", "severity: No SLA policy for severity 'critical'.")


def test_the_same_event_handled_twice_acts_once(clock, am, send):
    source, token = am
    send("alertmanager", token, firing_payload())
    alert = Alert.objects.get()
    run = AutomationRun.objects.get()
    event = events.AlertReceived(source_id=source.pk, group_id=alert.group_id, firing=(alert.pk,),
                                 receipt=run.event_key.rsplit(":", 1)[1])
    assert event.key == run.event_key
    events.publish(event)
    assert Incident.objects.count() == 1
    assert list(AutomationRun.objects.order_by("pk").values_list("outcome", flat=True)) == ["acted", "skipped"]


def test_a_replayed_resolution_resolves_once(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload())
    send("alertmanager", token, resolved_payload())
    send("alertmanager", token, resolved_payload())  # resolved again: nothing more to do
    assert AutomationRun.objects.count() == 2
    assert Incident.objects.get().state == "resolved"


def test_runs_about_a_confidential_incident_are_hidden_from_outsiders(
    clock, am, send, api_client, user_in_role, incident_manager
):
    from opsdesk.choices import Role

    _, token = am
    send("alertmanager", token, firing_payload())
    Incident.objects.update(confidential=True)
    send("alertmanager", token, firing_payload(fingerprints=("a1", "a2")))  # attaches: a run that changed it
    outsider = user_in_role(Role.API_READERS)
    assert api_client(outsider).get("/api/v1/automation/runs/", {"rule": "alert_to_incident"}).json()["count"] == 0
    assert api_client(incident_manager).get("/api/v1/automation/runs/", {"rule": "alert_to_incident"}).json()[
        "count"] == 2
    assert AlertGroup.objects.count() == 1


def test_the_automation_pages_show_alert_runs(clock, am, send, client, user_in_role):
    from django.urls import reverse

    _, token = am
    send("alertmanager", token, firing_payload())
    run = AutomationRun.objects.get()
    client.force_login(user_in_role("Service Desk"))
    index = client.get(reverse("automation:index"))
    assert index.status_code == 200 and "alertmanager/alertname=g1" in index.content.decode()
    page = client.get(reverse("automation:run", args=[run.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "alertmanager/alertname=g1" in text and Incident.objects.get().number in text
