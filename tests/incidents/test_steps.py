"""The incident's checklist (§2.1): the template, the steps the system sees, people completing and
skipping steps, and ``close`` waiting for the required ones — through the services, the API and the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from incidents import services, steps
from incidents.choices import HANDBOOK_STEPS, StepKey, StepState
from incidents.models import IncidentStep, ProcessTemplate
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

from .conftest import T0

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"
REQUIRED = ["priority_assignment", "team_notification", "team_assembly", "service_restoration",
            "incident_documentation", "lessons_learned"]


def log(service, by=None, severity="medium", **kwargs):
    return services.incident_create(by=by, title="Checkout down", service=service, severity=severity, **kwargs)


def state_of(incident) -> dict[str, str]:
    return dict(IncidentStep.objects.filter(incident=incident).values_list("key", "state"))


def step(incident, key) -> IncidentStep:
    return IncidentStep.objects.get(incident=incident, key=key)


def resolve(incident, by=None, at=None):
    return services.incident_transition(instance=incident, name="resolve", by=by, at=at,
                                        resolution_summary="Restarted the pods.")


# --- the template -------------------------------------------------------------------------


def test_the_migration_seeds_the_handbooks_sixteen_steps_with_the_required_ones():
    rows = list(ProcessTemplate.objects.order_by("position").values_list("phase", "key", "required"))
    assert rows == [(phase.value, key.value, required) for phase, key, required in HANDBOOK_STEPS]
    assert [key for _, key, required in rows if required] == REQUIRED


def test_a_new_incident_gets_the_template_with_creation_steps_done(clock, service, desk):
    incident = log(service, by=desk)
    rows = list(IncidentStep.objects.filter(incident=incident).order_by("position"))
    assert [r.key for r in rows] == [key.value for _, key, _ in HANDBOOK_STEPS]
    done = {r.key: (r.done_at, r.done_by, r.auto) for r in rows if r.state == StepState.DONE}
    assert done[StepKey.IDENTIFY_INCIDENT] == (T0, desk, True)
    assert done[StepKey.PRIORITY_ASSIGNMENT] == (T0, desk, True)


def test_a_template_change_applies_to_new_incidents_only(clock, service):
    old = log(service)
    ProcessTemplate.objects.filter(key=StepKey.IMPACT_ANALYSIS).update(required=True, title="Impact, in writing")
    ProcessTemplate.objects.filter(key=StepKey.PROCESS_IMPROVEMENT).update(active=False)
    new = log(service)
    assert (step(old, "impact_analysis").required, step(old, "impact_analysis").title) == (False, "Analyse the impact")
    assert IncidentStep.objects.filter(incident=old, key="process_improvement").exists()
    assert (step(new, "impact_analysis").required, step(new, "impact_analysis").title) == (True, "Impact, in writing")
    assert not IncidentStep.objects.filter(incident=new, key="process_improvement").exists()


def test_a_flush_brings_back_a_missing_handbook_step():
    from incidents.apps import ensure_process_template

    ProcessTemplate.objects.filter(key="lessons_learned").delete()
    ProcessTemplate.objects.filter(key="impact_analysis").update(title="Kept as edited")
    ensure_process_template()
    assert ProcessTemplate.objects.filter(key="lessons_learned", required=True).exists()
    assert ProcessTemplate.objects.get(key="impact_analysis").title == "Kept as edited"


# --- what the system sees -------------------------------------------------------------------


def test_team_notification_is_seen_when_the_teams_notification_is_written(clock, service):
    incident = log(service, severity="medium")  # standard: the team is emailed at once
    assert (step(incident, "team_notification").state, step(incident, "team_notification").auto) == ("done", True)


def test_a_routine_incident_is_notified_by_the_morning_digest(clock, service):
    incident = log(service, severity="low")
    assert step(incident, "team_notification").state == "pending"
    clock.move_to(T0 + timedelta(hours=2))
    services.send_routine_digests()
    assert step(incident, "team_notification").state == "done"
    assert step(incident, "team_notification").done_at == T0 + timedelta(hours=2)


def test_without_a_team_no_team_notification_is_seen(clock, managers):
    service = ServiceFactory(owner_team=None)
    incident = log(service, severity="critical")  # Incident Managers are told, the (missing) team is not
    assert step(incident, "team_notification").state == "pending"


def test_acknowledge_resolve_and_reopen_are_seen(clock, service, desk, manager):
    incident = log(service)
    clock.move_to(T0 + timedelta(minutes=5))
    incident = services.incident_transition(instance=incident, name="acknowledge", by=desk)
    assert (step(incident, "team_assembly").state, step(incident, "team_assembly").done_by) == ("done", desk)
    clock.move_to(T0 + timedelta(hours=1))
    incident = resolve(incident, by=desk)
    assert state_of(incident)["service_restoration"] == "done"
    assert state_of(incident)["solution_implementation"] == "done"  # the resolution summary
    incident = services.incident_transition(instance=incident, name="reopen", by=manager)
    assert state_of(incident)["service_restoration"] == "pending"
    assert state_of(incident)["solution_implementation"] == "done"


def test_resolving_straight_from_detected_also_sees_the_team_assembled(clock, service, desk):
    incident = resolve(log(service), by=desk)
    assert state_of(incident)["team_assembly"] == "done"


def test_review_fields_are_seen(clock, service, manager):
    incident = resolve(log(service))
    services.incident_update(incident=incident, by=manager, root_cause="A bad config push.")
    seen = state_of(incident)
    assert (seen["root_cause_analysis"], seen["incident_documentation"], seen["lessons_learned"]) == (
        "done", "done", "pending")
    services.incident_update(incident=incident, by=manager, lessons_learned="Review pushes.",
                             preventive_measures="A pipeline.")
    assert state_of(incident)["lessons_learned"] == state_of(incident)["preventive_measures"] == "done"


def test_what_a_person_did_or_skipped_is_never_overwritten(clock, service, manager):
    incident = log(service)
    steps.step_skip(incident=incident, key="root_cause_analysis", by=manager, reason="Known cause.")
    steps.step_complete(incident=incident, key="verification_testing", by=manager, note="Ran the checks.")
    resolve(incident)
    services.incident_update(incident=incident, by=manager, root_cause="Disk full.")
    assert step(incident, "root_cause_analysis").state == "skipped"
    assert step(incident, "verification_testing").auto is False


# --- people completing and skipping -------------------------------------------------------------


def test_complete_and_skip_record_who_when_and_why(clock, service, desk, manager):
    incident = log(service)
    clock.move_to(T0 + timedelta(minutes=3))
    done = steps.step_complete(incident=incident, key="initial_assessment", by=desk, note="EU only.")
    assert (done.state, done.done_at, done.done_by, done.auto, done.note) == ("done", T0 + timedelta(minutes=3),
                                                                               desk, False, "EU only.")
    skipped = steps.step_skip(incident=incident, key="containment_measures", by=manager, reason="Nothing to contain.")
    assert (skipped.state, skipped.done_by, skipped.note) == ("skipped", manager, "Nothing to contain.")
    # A skipped step may still be completed after all.
    assert steps.step_complete(incident=incident, key="containment_measures", by=desk).state == "done"


def test_a_required_step_cannot_be_skipped(clock, service, manager):
    incident = log(service)
    with pytest.raises(TransitionNotAllowed, match="required"):
        steps.step_skip(incident=incident, key="team_assembly", by=manager, reason="No need.")
    assert step(incident, "team_assembly").state == "pending"


def test_skipping_needs_a_reason_and_a_step_is_done_once(clock, service, manager):
    incident = log(service)
    with pytest.raises(DomainValidationError) as exc:
        steps.step_skip(incident=incident, key="impact_analysis", by=manager, reason="  ")
    assert "reason" in exc.value.errors
    steps.step_complete(incident=incident, key="impact_analysis", by=manager)
    with pytest.raises(TransitionNotAllowed, match="already done"):
        steps.step_complete(incident=incident, key="impact_analysis", by=manager)
    with pytest.raises(TransitionNotAllowed, match="already done"):
        steps.step_skip(incident=incident, key="impact_analysis", by=manager, reason="x")


@pytest.mark.parametrize(
    ("role", "may_complete", "may_skip"),
    [
        (Role.SERVICE_DESK, True, False),
        (Role.INCIDENT_MANAGERS, True, True),
        (Role.CHANGE_MANAGERS, False, False),
        (Role.TECH_LEADS, False, False),
        (Role.PRODUCT_OWNERS, False, False),
        (Role.OPS_MANAGERS, False, False),
        (Role.RELEASE_MANAGERS, False, False),
        (Role.API_READERS, False, False),
    ],
)
def test_who_may_complete_and_skip_steps(clock, service, user_in_role, api_client, role, may_complete, may_skip):
    incident = log(service)
    client = api_client(user_in_role(role))
    complete = client.post(f"{LIST}{incident.pk}/steps/impact_analysis/complete/", {}, format="json")
    assert complete.status_code == (200 if may_complete else 403)
    skip = client.post(f"{LIST}{incident.pk}/steps/containment_measures/skip/", {"reason": "n/a"}, format="json")
    assert skip.status_code == (200 if may_skip else 403)
    assert step(incident, "containment_measures").state == ("skipped" if may_skip else "pending")


def test_steps_of_a_closed_incident_are_final(clock, service, manager):
    incident = IncidentFactory(service=service)
    log_steps = steps.create_steps(incident, by=None, at=T0)
    assert len(log_steps) == 16
    incident = resolve(incident)
    steps.observe(incident.pk, [s.key for s in log_steps])
    services.incident_transition(instance=incident, name="close", by=manager, root_cause="x", lessons_learned="y")
    with pytest.raises(TransitionNotAllowed, match="closed"):
        steps.step_complete(incident=incident, key="impact_analysis", by=manager)


# --- close waits for the required steps -----------------------------------------------------------


def test_close_is_refused_while_a_required_step_is_pending_and_names_it(clock, service, manager, api_client):
    incident = resolve(log(service, severity="low"))  # routine: the digest has not gone out yet
    response = api_client(manager).post(
        f"{LIST}{incident.pk}/close/", {"root_cause": "Disk full.", "lessons_learned": "Alert earlier."}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["missing"] == ["team_notification"]
    assert "Notify the team" in response.json()["detail"]
    incident.refresh_from_db()
    assert (incident.state, incident.root_cause) == ("resolved", "")
    assert state_of(incident)["lessons_learned"] == "pending"  # the refused close recorded nothing


def test_missing_lists_every_required_step_the_close_leaves_pending(clock, service, manager, api_client):
    incident = resolve(log(service, severity="low"))
    response = api_client(manager).post(f"{LIST}{incident.pk}/close/", {"root_cause": "Disk full."}, format="json")
    assert response.status_code == 409
    assert response.json()["missing"] == ["team_notification", "lessons_learned"]


def test_close_counts_the_fields_it_records_and_then_succeeds(clock, service, manager, api_client):
    incident = resolve(log(service, severity="low"))
    client = api_client(manager)
    assert client.post(f"{LIST}{incident.pk}/steps/team_notification/complete/", {"note": "Phoned them."},
                       format="json").status_code == 200
    detail = client.get(f"{LIST}{incident.pk}/").json()
    assert "close" in detail["available_transitions"]  # what is still pending, the close form provides
    response = client.post(f"{LIST}{incident.pk}/close/", {"root_cause": "Disk full.", "lessons_learned": "Alert."},
                           format="json")
    assert response.status_code == 200, response.content
    by_key = {s["key"]: s for s in response.json()["steps"]}
    assert by_key["lessons_learned"]["state"] == by_key["incident_documentation"]["state"] == "done"
    assert by_key["lessons_learned"]["auto"] is True


def test_close_is_not_offered_while_a_step_the_close_form_cannot_bring_about_is_pending(clock, service, manager):
    incident = resolve(log(service, severity="low"))
    assert "close" not in incident.available_transitions_for(manager)
    steps.step_complete(incident=incident, key="team_notification", by=manager)
    assert "close" in incident.available_transitions_for(manager)


def test_refusals_of_close_keep_their_order_403_then_409(clock, service, desk, api_client):
    incident = resolve(log(service, severity="low"))
    assert api_client(desk).post(f"{LIST}{incident.pk}/close/", {}, format="json").status_code == 403


def test_incidents_without_a_checklist_close_as_before(clock, service, manager):
    incident = resolve(IncidentFactory(service=service))  # logged before the process was tracked
    closed = services.incident_transition(instance=incident, name="close", by=manager, root_cause="x",
                                          lessons_learned="y")
    assert closed.state == "closed"


# --- the API ----------------------------------------------------------------------------------


def test_detail_carries_the_steps_and_the_list_does_not(clock, service, desk, api_client):
    incident = log(service, by=desk)
    client = api_client(desk)
    detail = client.get(f"{LIST}{incident.pk}/").json()
    assert [s["key"] for s in detail["steps"]][:4] == ["identify_incident", "initial_assessment",
                                                       "priority_assignment", "team_notification"]
    assert detail["steps"][0] == {
        "phase": "detection", "key": "identify_incident", "title": "Identify the incident", "required": False,
        "state": "done", "done_at": "2026-03-02T09:00:00Z", "done_by": desk.pk, "auto": True, "note": "",
    }
    assert "steps" not in client.get(LIST).json()["results"][0]
    assert len(client.get(f"{LIST}{incident.pk}/steps/").json()) == 16


def test_api_refusals_of_steps(clock, service, manager, api_client):
    incident = log(service)
    client = api_client(manager)
    base = f"{LIST}{incident.pk}/steps"
    assert client.post(f"{base}/no_such_step/complete/", {}, format="json").status_code == 404
    assert client.post(f"{base}/team_assembly/skip/", {"reason": "no"}, format="json").status_code == 409
    response = client.post(f"{base}/impact_analysis/skip/", {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = client.post(f"{base}/impact_analysis/skip/", {"reason": ""}, format="json")
    assert response.status_code == 400 and "reason" in response.json()


def test_steps_of_a_confidential_incident_are_404_to_outsiders(clock, service, desk, api_client):
    outsider_team = TeamFactory()
    outsider = UserFactory(roles=[Role.SERVICE_DESK])
    outsider_team.members.add(outsider)
    incident = log(service, confidential=True)
    assert api_client(outsider).post(f"{LIST}{incident.pk}/steps/impact_analysis/complete/", {},
                                     format="json").status_code == 404
    assert api_client(outsider).get(f"{LIST}{incident.pk}/steps/").status_code == 404


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_the_checklist_per_phase_and_completes_a_step(clock, client, service, desk):
    incident = log(service, by=desk)
    client.force_login(desk)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    for phase in ("Detection", "Response", "Resolution", "Follow-up"):
        assert f'<h3 class="h6 mb-0">{phase}</h3>' in page
    assert 'id="step-impact_analysis"' in page
    assert "Skip…" not in page  # the service desk completes, never skips
    response = client.post(reverse("incidents:step-complete", args=[incident.pk, "impact_analysis"]),
                           {"note": "EU only"})
    assert response.status_code == 302
    assert (step(incident, "impact_analysis").state, step(incident, "impact_analysis").note) == ("done", "EU only")


def test_the_page_skips_with_a_reason_and_reports_a_missing_one(clock, client, service, manager):
    incident = log(service)
    client.force_login(manager)
    url = reverse("incidents:step-skip", args=[incident.pk, "impact_analysis"])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "Say why the step is skipped." in response.content.decode()
    assert client.post(url, {"reason": "Known impact"}).status_code == 302
    assert step(incident, "impact_analysis").state == "skipped"
    response = client.post(reverse("incidents:step-skip", args=[incident.pk, "team_assembly"]), {"reason": "x"},
                           follow=True)
    assert "is required: it cannot be skipped" in response.content.decode()
    assert step(incident, "team_assembly").state == "pending"
