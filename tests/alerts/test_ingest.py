"""The ingest endpoint with real payloads: what is stored, what incident it makes, what is refused."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import Alert, AlertGroup
from automation.models import AutomationRun
from incidents import services as incident_services
from incidents.models import Incident, IncidentNote
from opsdesk.models import TransitionLog

from .conftest import T0, payload

pytestmark = pytest.mark.django_db


def test_an_alertmanager_payload_opens_one_incident_for_its_group(clock, service, make_source, send):
    source, token = make_source("alertmanager")
    response = send("alertmanager", token, payload("alertmanager_v4_firing"))
    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert response.json() == {"incidents": [incident.number], "alerts": 2}
    assert incident.title == "BlackBox probe failure: https://shop.example.org (+1 more alert)"
    assert incident.severity == "critical"
    assert incident.service == service
    # The earliest startsAt (08:52:26.739266876+01:00, nanoseconds cut to microseconds): MTTD is real.
    assert incident.started_at == datetime(2026, 3, 2, 7, 52, 26, 739266, tzinfo=UTC)
    assert incident.detected_at == T0
    assert incident.reporter is None and incident.created_by_rule == "alert_to_incident"
    assert "Instance https://shop.example.org has been down" in incident.description
    assert "BlackBox probe failure: https://api.shop.example.org" in incident.description
    assert "http://prometheus.example.org:9090/graph" in incident.description
    alerts = Alert.objects.order_by("fingerprint")
    assert [(a.fingerprint, a.status, a.incident_id) for a in alerts] == [
        ("1a30ba71cca2921f", "firing", incident.pk), ("5d3e4f41b2a1c0aa", "firing", incident.pk),
    ]
    assert AlertGroup.objects.get().incident == incident


def firing_payload(group: str = "g1", fingerprints=("a1",), *, starts_at="2026-03-02T08:55:00Z", **labels) -> dict:
    """An Alertmanager v4 delivery of one group with firing alerts."""
    body = payload("alertmanager_v4_firing")
    template = body["alerts"][0]
    body["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    body["groupLabels"] = {"alertname": group}
    body["alerts"] = []
    for fp in fingerprints:
        alert = copy.deepcopy(template)
        alert["fingerprint"] = fp
        alert["labels"] = {**alert["labels"], "alertname": group, "instance": fp, **labels}
        alert["annotations"] = {"summary": f"{group} on {fp}", "description": f"{fp} is unwell"}
        alert["startsAt"] = starts_at
        body["alerts"].append(alert)
    return body


def resolved_payload(group: str = "g1", fingerprints=("a1",), *, starts_at="2026-03-02T08:55:00Z",
                     ends_at="2026-03-02T09:04:00Z") -> dict:
    body = firing_payload(group, fingerprints, starts_at=starts_at)
    body["status"] = "resolved"
    for alert in body["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = ends_at
    return body


@pytest.fixture
def am(make_source, service):
    source, token = make_source("alertmanager")
    return source, token


# --- dedupe --------------------------------------------------------------------------------


def test_an_alert_already_firing_only_moves_last_seen(clock, am, send):
    source, token = am
    first = send("alertmanager", token, firing_payload()).json()
    clock.shift(timedelta(minutes=5))
    again = send("alertmanager", token, firing_payload())
    assert again.status_code == 202
    assert again.json() == first == {"incidents": [Incident.objects.get().number], "alerts": 1}
    alert = Alert.objects.get()
    assert (alert.first_seen, alert.last_seen) == (T0, T0 + timedelta(minutes=5))
    assert Incident.objects.count() == 1
    assert AutomationRun.objects.filter(rule__key="alert_to_incident").count() == 1  # the repeat needs no rule


def test_the_same_fingerprint_twice_in_one_delivery_is_one_alert(clock, am, send):
    _, token = am
    body = firing_payload(fingerprints=("a1", "a1"))
    assert send("alertmanager", token, body).json()["alerts"] == 1
    assert Alert.objects.count() == 1


# --- grouping ------------------------------------------------------------------------------


def test_a_new_alert_of_a_group_with_an_open_incident_attaches_to_it_with_a_system_note(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload(fingerprints=("a1",)))
    incident = Incident.objects.get()
    clock.shift(timedelta(minutes=2))
    answer = send("alertmanager", token, firing_payload(fingerprints=("a1", "a2"))).json()
    assert answer == {"incidents": [incident.number], "alerts": 2}
    assert Incident.objects.count() == 1
    assert set(Alert.objects.values_list("fingerprint", "incident")) == {("a1", incident.pk), ("a2", incident.pk)}
    note = IncidentNote.objects.get(incident=incident)
    assert note.author is None
    assert note.body == "1 alert of the group fired: g1 on a2 (a2)."


def test_another_group_opens_another_incident(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload("g1", ("a1",)))
    send("alertmanager", token, firing_payload("g2", ("b1",)))
    assert Incident.objects.count() == 2
    assert AlertGroup.objects.count() == 2


def test_a_group_whose_incident_is_closed_or_resolved_long_ago_opens_a_new_one(clock, am, send, incident_manager):
    _, token = am
    send("alertmanager", token, firing_payload(fingerprints=("a1",)))
    first = Incident.objects.get()
    incident_services.incident_transition(instance=first, name="resolve", by=incident_manager,
                                          resolution_summary="Restarted")
    send("alertmanager", token, firing_payload(fingerprints=("a2",)))  # a new fingerprint: not a reopen
    assert Incident.objects.count() == 2
    assert Alert.objects.get(fingerprint="a2").incident != first


# --- resolve ---------------------------------------------------------------------------------


def test_resolved_alerts_are_noted_and_the_incident_resolved_by_the_system(clock, service, make_source, send):
    _, token = make_source("alertmanager")
    send("alertmanager", token, payload("alertmanager_v4_firing"))
    incident = Incident.objects.get()
    clock.shift(timedelta(minutes=25))
    answer = send("alertmanager", token, payload("alertmanager_v4_resolved"))
    assert answer.status_code == 202
    assert answer.json() == {"incidents": [incident.number], "alerts": 2}
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.resolved_at == T0 + timedelta(minutes=25)
    assert incident.resolution_summary == "All alerts resolved."
    entry = TransitionLog.objects.get(object_id=incident.pk, transition="resolve")
    assert (entry.user, entry.comment) == (None, "All alerts resolved.")
    alerts = {a.fingerprint: a for a in Alert.objects.all()}
    assert alerts["1a30ba71cca2921f"].status == "resolved"
    assert alerts["1a30ba71cca2921f"].ends_at == datetime(2026, 3, 2, 8, 20, 11, 500000, tzinfo=UTC)
    note = IncidentNote.objects.get(incident=incident)
    assert note.author is None and note.body.startswith("Resolved: BlackBox probe failure")


def test_an_incident_with_an_alert_still_firing_stays_open(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload(fingerprints=("a1", "a2")))
    send("alertmanager", token, resolved_payload(fingerprints=("a1",)))
    incident = Incident.objects.get()
    assert incident.state == "detected"
    assert IncidentNote.objects.get(incident=incident).body == "Resolved: g1 on a1 (a1)."


def test_without_auto_resolve_the_incident_is_only_told(clock, service, make_source, send):
    _, token = make_source("alertmanager", auto_resolve=False)
    send("alertmanager", token, firing_payload())
    send("alertmanager", token, resolved_payload())
    incident = Incident.objects.get()
    assert incident.state == "detected"
    assert IncidentNote.objects.filter(incident=incident, body__startswith="Resolved:").exists()


def test_an_incident_on_hold_is_not_resolved_by_the_system(clock, am, send, incident_manager):
    _, token = am
    send("alertmanager", token, firing_payload())
    incident = Incident.objects.get()
    for name in ("acknowledge", "hold"):
        incident = incident_services.incident_transition(instance=incident, name=name, by=incident_manager)
    send("alertmanager", token, resolved_payload())
    incident.refresh_from_db()
    assert incident.state == "on_hold"
    assert Alert.objects.get().status == "resolved"


def test_a_responding_incident_is_resolved_by_the_system(clock, am, send, incident_manager):
    _, token = am
    send("alertmanager", token, firing_payload())
    incident = incident_services.incident_transition(
        instance=Incident.objects.get(), name="acknowledge", by=incident_manager
    )
    send("alertmanager", token, resolved_payload())
    incident.refresh_from_db()
    assert incident.state == "resolved"


def test_a_resolved_alert_never_seen_firing_is_stored_without_an_incident(clock, am, send):
    _, token = am
    answer = send("alertmanager", token, resolved_payload()).json()
    assert answer == {"incidents": [], "alerts": 1}
    assert Incident.objects.count() == 0
    assert Alert.objects.get().status == "resolved"


# --- reopen (flapping) -------------------------------------------------------------------------


def test_an_alert_firing_again_within_reopen_minutes_reopens_its_incident(clock, am, send):
    source, token = am
    send("alertmanager", token, firing_payload())
    clock.shift(timedelta(minutes=5))
    send("alertmanager", token, resolved_payload())
    incident = Incident.objects.get()
    assert incident.state == "resolved"
    clock.shift(timedelta(minutes=29))
    answer = send("alertmanager", token, firing_payload(starts_at="2026-03-02T09:33:00Z")).json()
    assert answer == {"incidents": [incident.number], "alerts": 1}
    incident.refresh_from_db()
    assert incident.state == "responding"
    assert Incident.objects.count() == 1
    entry = TransitionLog.objects.get(object_id=incident.pk, transition="reopen")
    assert entry.user is None and "fired again 29 min after the incident was resolved" in entry.comment
    old, new = Alert.objects.order_by("pk")
    assert (old.current, old.status, new.current, new.status, new.previous) == (False, "resolved", True, "firing", old)
    assert new.incident == incident == old.incident


def test_an_alert_firing_again_after_reopen_minutes_opens_a_new_incident(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload())
    clock.shift(timedelta(minutes=5))
    send("alertmanager", token, resolved_payload())
    clock.shift(timedelta(minutes=31))
    send("alertmanager", token, firing_payload(starts_at="2026-03-02T09:35:00Z"))
    first, second = Incident.objects.order_by("pk")
    assert (first.state, second.state) == ("resolved", "detected")
    assert Alert.objects.get(current=True).incident == second


def test_a_late_copy_of_the_firing_alert_does_not_fire_it_again(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload())
    send("alertmanager", token, resolved_payload())
    send("alertmanager", token, firing_payload())  # the same startsAt: the old occurrence, delivered late
    assert Alert.objects.count() == 1
    assert Incident.objects.get().state == "resolved"


# --- mapping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "severity"),
    [("critical", "critical"), ("error", "high"), ("high", "high"), ("Warning", "medium"), ("info", "low"),
     ("page-me", "medium")],
)
def test_the_severity_label_maps_through_the_severity_map_else_the_default(clock, am, send, label, severity):
    _, token = am
    send("alertmanager", token, firing_payload(severity=label))
    assert Incident.objects.get().severity == severity


def test_a_sources_own_severity_map_and_default(clock, service, make_source, send):
    _, token = make_source("alertmanager", severity_map={"p1": "critical"}, default_severity="low")
    send("alertmanager", token, firing_payload("g1", severity="P1"))
    send("alertmanager", token, firing_payload("g2", ("b1",), severity="warning"))
    assert dict(Incident.objects.values_list("title", "severity")) == {"g1 on a1": "critical", "g2 on b1": "low"}


def test_a_group_takes_the_highest_severity_of_its_alerts(clock, am, send):
    _, token = am
    body = firing_payload(fingerprints=("a1", "a2"), severity="warning")
    body["alerts"][1]["labels"]["severity"] = "critical"
    send("alertmanager", token, body)
    assert Incident.objects.get().severity == "critical"


def test_the_service_label_names_the_service_else_the_default(clock, am, send, fallback_service):
    _, token = am
    send("alertmanager", token, firing_payload("g1", ("a1",), service="checkout"))
    send("alertmanager", token, firing_payload("g2", ("b1",), service="no-such-service"))
    body = firing_payload("g3", ("c1",))
    del body["alerts"][0]["labels"]["service"]
    send("alertmanager", token, body)
    services = dict(Incident.objects.values_list("title", "service__slug"))
    assert services == {"g1 on a1": "checkout", "g2 on b1": "monitoring", "g3 on c1": "monitoring"}
    unknown = Incident.objects.get(title="g2 on b1")
    assert "The service label (no-such-service) names no service in OpsDesk" in unknown.description


def test_a_source_can_name_another_service_label(clock, service, make_source, send):
    _, token = make_source("alertmanager", service_label="app")
    send("alertmanager", token, firing_payload(app="checkout", service="monitoring"))
    assert Incident.objects.get().service == service


def test_the_title_falls_back_to_the_alertname(clock, am, send):
    _, token = am
    body = firing_payload("DiskFull")
    body["alerts"][0]["annotations"] = {}
    send("alertmanager", token, body)
    assert Incident.objects.get().title == "DiskFull"


def test_a_start_in_the_future_is_taken_as_the_detection_time(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload(starts_at="2026-03-02T09:03:00Z"))  # the monitor's clock runs fast
    incident = Incident.objects.get()
    assert incident.started_at == incident.detected_at == T0


# --- the other formats -----------------------------------------------------------------------------


def test_a_grafana_payload_opens_an_incident_with_its_links(clock, service, make_source, send, fallback_service):
    _, token = make_source("grafana")
    answer = send("grafana", token, payload("grafana_firing"))
    assert answer.status_code == 202
    incident = Incident.objects.get()
    assert answer.json() == {"incidents": [incident.number], "alerts": 2}
    assert incident.severity == "critical"  # the highest of warning and critical
    assert incident.service == fallback_service  # no service label
    assert incident.title == "This alert was triggered for zone us-1 (+1 more alert)"
    assert incident.started_at == datetime(2026, 3, 2, 7, 51, 3, 157076, tzinfo=UTC)
    memory = Alert.objects.get(fingerprint="c6eadffa33fcdf37")
    assert memory.annotations["dashboard_url"] == "https://grafana.example.org/d/memory"
    assert memory.generator_url == "https://grafana.example.org/alerting/1afz29v7z/edit"


def test_a_generic_payload_groups_by_its_group(clock, service, make_source, send):
    _, token = make_source("generic")
    answer = send("generic", token, payload("generic"))
    assert answer.status_code == 202, answer.content
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.service) == (
        "Disk /var almost full on db1 (+1 more alert)", "high", service,
    )
    assert incident.started_at == datetime(2026, 3, 2, 8, 40, tzinfo=UTC)
    assert "/var is 93 % full" in incident.description
    assert Alert.objects.get(fingerprint="disk-db1-var").generator_url == "https://nagios.example.org/host/db1"


def test_generic_alerts_without_a_group_are_each_their_own(clock, service, make_source, send):
    _, token = make_source("generic")
    body = {"alerts": [{"title": "Backup failed on db1"}, {"title": "Backup failed on db2", "status": "firing"}]}
    answer = send("generic", token, body).json()
    assert len(answer["incidents"]) == 2
    assert Alert.objects.get(annotations__summary="Backup failed on db1").starts_at == T0  # default: received


def test_generic_resolve_by_fingerprint(clock, service, make_source, send):
    _, token = make_source("generic")
    send("generic", token, {"alerts": [{"fingerprint": "job-1", "title": "Nightly job failed"}]})
    send("generic", token, {"alerts": [{"fingerprint": "job-1", "status": "resolved", "title": "Nightly job failed"}]})
    assert Incident.objects.get().state == "resolved"
    assert Alert.objects.get().ends_at == T0


# --- the incident's detail and the automation log -------------------------------------------------


def test_incident_detail_carries_its_alerts(clock, am, send, api_client, incident_manager):
    _, token = am
    number = send("alertmanager", token, firing_payload(fingerprints=("a1", "a2"))).json()["incidents"][0]
    incident = Incident.objects.get(number=number)
    detail = api_client(incident_manager).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert sorted(a["fingerprint"] for a in detail["alerts"]) == ["a1", "a2"]
    first = detail["alerts"][0]
    assert {"fingerprint", "status", "starts_at", "ends_at", "labels"} <= set(first)
    assert first["status"] == "firing" and first["labels"]["alertname"] == "g1"
    assert first["starts_at"] == "2026-03-02T08:55:00Z" and first["ends_at"] is None
    listing = api_client(incident_manager).get("/api/v1/incidents/").json()["results"][0]
    assert "alerts" not in listing


def test_the_rule_records_what_it_did(clock, am, send):
    _, token = am
    send("alertmanager", token, firing_payload(fingerprints=("a1", "a2")))
    run = AutomationRun.objects.get(rule__key="alert_to_incident")
    incident = Incident.objects.get()
    assert run.outcome == "acted"
    assert run.detail == f"Opened {incident.number} for 2 alerts."
    assert run.subject_number == "alertmanager/alertname=g1"
    assert [(r.action, r.object_id) for r in run.records.all()] == [("created", incident.pk)]



def test_mttd_measures_the_monitorings_real_delay(clock, am, send, api_client, incident_manager):
    _, token = am
    send("alertmanager", token, firing_payload(starts_at="2026-03-02T08:52:30Z"))  # received at 09:00
    metrics = api_client(incident_manager).get("/api/v1/metrics/", {"from": "2026-03-02", "to": "2026-03-03"})
    assert metrics.status_code == 200
    assert metrics.json()["incidents"]["mttd_seconds"] == 450.0


def test_reopen_minutes_zero_never_reopens(clock, service, make_source, send):
    _, token = make_source("alertmanager", reopen_minutes=0)
    send("alertmanager", token, firing_payload())
    send("alertmanager", token, resolved_payload())
    clock.shift(timedelta(minutes=1))
    send("alertmanager", token, firing_payload(starts_at="2026-03-02T09:00:30Z"))
    assert list(Incident.objects.order_by("pk").values_list("state", flat=True)) == ["resolved", "detected"]


def test_alerts_resolving_after_a_person_resolved_the_incident_are_only_noted(clock, am, send, incident_manager):
    _, token = am
    send("alertmanager", token, firing_payload())
    incident = incident_services.incident_transition(
        instance=Incident.objects.get(), name="resolve", by=incident_manager, resolution_summary="Rolled back."
    )
    send("alertmanager", token, resolved_payload())
    incident.refresh_from_db()
    assert (incident.state, incident.resolution_summary) == ("resolved", "Rolled back.")
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="resolve").count() == 1
    assert IncidentNote.objects.get(incident=incident).body == "Resolved: g1 on a1 (a1)."
