"""The post-incident review (§2.1): follow-up target and its sweep, action items and their reminders,
"raise a change", detection target, caller fields — through the services, the API and the page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from changes.models import ChangeRequest
from incidents import review, services
from incidents.models import ActionItem, Incident, IncidentStep, SLAPolicy
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.models import Notification, TransitionLog
from tests.factories import TeamFactory, UserFactory

from .conftest import T0, sent

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def log(service, by=None, severity="medium", **kwargs):
    return services.incident_create(by=by, title="Checkout down", service=service, severity=severity, **kwargs)


def resolved(service, **kwargs):
    incident = log(service, **kwargs)
    return services.incident_transition(instance=incident, name="resolve", by=None, resolution_summary="Fixed.")


def reload(incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


# --- the detection target -----------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "breached"), [(15, False), (16, True), (0, False)])
def test_detection_breached_is_set_at_creation(clock, service, minutes, breached):
    incident = log(service, started_at=T0 - timedelta(minutes=minutes))
    assert incident.detection_breached is breached


def test_the_detection_target_is_a_policy_setting_and_edits_of_the_times_recount_it(clock, service, manager):
    SLAPolicy.objects.filter(severity="medium").update(detection_time=timedelta(hours=1))
    incident = log(service, started_at=T0 - timedelta(minutes=45))
    assert incident.detection_breached is False
    services.incident_update(incident=incident, by=manager, started_at=T0 - timedelta(hours=2))
    assert reload(incident).detection_breached is True


# --- the follow-up target and its sweep ------------------------------------------------------------


def test_follow_up_due_comes_from_the_policy(clock, service):
    SLAPolicy.objects.filter(severity="medium").update(follow_up_time=timedelta(hours=48))
    assert resolved(service).follow_up_due == T0 + timedelta(hours=48)
    assert resolved(service, severity="high").follow_up_due == T0 + timedelta(hours=24)


def test_the_sweep_flags_a_late_review_once_and_tells_the_lead_and_incident_managers(clock, service, managers):
    incident = resolved(service)
    clock.move_to(T0 + timedelta(hours=23, minutes=59))
    assert services.sla_sweep()["follow_up_breached"] == 0
    clock.move_to(T0 + timedelta(hours=25))
    assert services.sla_sweep()["follow_up_breached"] == 1
    assert services.sla_sweep()["follow_up_breached"] == 0
    incident = reload(incident)
    assert (incident.follow_up_breached, incident.follow_up_breached_at) == (True, T0 + timedelta(hours=24))
    assert sent(subject__contains="follow-up overdue") == {("email", "lead@example.test"),
                                                           ("email", "im@example.test")}
    assert Notification.objects.filter(subject__contains="follow-up overdue").count() == 2


def test_two_concurrent_claims_flag_once(clock, service, managers):
    from incidents import process

    incident = resolved(service)
    clock.move_to(T0 + timedelta(hours=25))
    now = T0 + timedelta(hours=25)
    assert process._flag_follow_up(incident.pk, now) + process._flag_follow_up(incident.pk, now) == 1


def test_closed_in_time_is_met_closed_late_is_flagged_without_notification(clock, service, manager):
    on_time = resolved(service)
    late = resolved(service)
    services.incident_transition(instance=on_time, name="close", by=manager, root_cause="x", lessons_learned="y")
    clock.move_to(T0 + timedelta(hours=30))
    services.incident_transition(instance=late, name="close", by=manager, root_cause="x", lessons_learned="y")
    assert reload(on_time).follow_up_breached is False
    assert (reload(late).follow_up_breached, reload(late).follow_up_breached_at) == (True, T0 + timedelta(hours=24))
    assert services.sla_sweep()["follow_up_breached"] == 0
    assert not Notification.objects.filter(subject__contains="follow-up overdue").exists()


def test_the_queue_has_a_follow_up_overdue_view(clock, client, service, desk):
    overdue = resolved(service)
    clock.move_to(T0 + timedelta(hours=2))
    recent = resolved(service)
    clock.move_to(T0 + timedelta(hours=25))
    client.force_login(desk)
    page = client.get(reverse("incidents:list"), {"follow_up_overdue": "true"}).content.decode()
    assert overdue.number in page and recent.number not in page
    assert "Follow-up overdue" in client.get(reverse("incidents:list")).content.decode()
    api = client.get(LIST, {"follow_up_overdue": "true"}).json()
    assert [row["number"] for row in api["results"]] == [overdue.number]


# --- action items -----------------------------------------------------------------------------


def add_item(incident, by, owner, due=date(2026, 3, 9), title="Alert on disk usage"):
    return review.action_item_create(incident=incident, by=by, title=title, owner=owner, due_date=due)


def test_an_action_item_has_an_owner_and_a_due_date_and_shows_preventive_measures(clock, service, manager, team):
    incident = resolved(service)
    owner = team.members.first()
    item = add_item(incident, manager, owner)
    assert (item.state, item.owner, item.due_date, item.created_by) == ("open", owner, date(2026, 3, 9), manager)
    assert IncidentStep.objects.get(incident=incident, key="preventive_measures").state == "done"
    assert sent(subject__startswith="Action item for you") == {("email", owner.email)}


def test_action_item_input_rules(clock, service, manager, team):
    incident = resolved(service)
    with pytest.raises(DomainValidationError) as exc:
        add_item(incident, manager, team.members.first(), due=date(2026, 3, 1), title=" ")
    assert set(exc.value.errors) == {"title", "due_date"}
    inactive = UserFactory(is_active=False)
    with pytest.raises(DomainValidationError) as exc:
        add_item(incident, manager, inactive)
    assert "owner" in exc.value.errors


def test_the_owner_of_a_confidential_incidents_item_must_see_it(clock, service, manager):
    incident = resolved(service, confidential=True)
    outsider = UserFactory()
    with pytest.raises(DomainValidationError, match="may not see"):
        add_item(incident, manager, outsider)
    assert outsider not in review.action_item_owner_choices(incident)
    assert manager in review.action_item_owner_choices(incident)


def test_the_owner_completes_their_own_item_others_may_not(clock, service, manager, team, desk):
    incident = resolved(service)
    owner = team.members.first()
    item = add_item(incident, manager, owner)
    with pytest.raises(Exception) as exc:
        review.action_item_complete(item=item, by=desk)
    assert type(exc.value).__name__ == "PermissionDenied"
    done = review.action_item_complete(item=item, by=owner, note="Alert added.")
    assert (done.state, done.closed_by, done.closed_at) == ("done", owner, T0)
    with pytest.raises(TransitionNotAllowed):
        review.action_item_complete(item=item, by=owner)


def test_cancelling_needs_the_permission_and_a_reason(clock, service, manager, team):
    incident = resolved(service)
    owner = team.members.first()
    item = add_item(incident, manager, owner)
    with pytest.raises(Exception, match="cancel"):
        review.action_item_cancel(item=item, by=owner, reason="No longer needed.")
    with pytest.raises(DomainValidationError):
        review.action_item_cancel(item=item, by=manager, reason="")
    assert review.action_item_cancel(item=item, by=manager, reason="Superseded.").state == "cancelled"


def test_an_overdue_item_reminds_its_owner_once(clock, service, manager, team):
    incident = resolved(service)
    owner = team.members.first()
    item = add_item(incident, manager, owner, due=date(2026, 3, 3))
    clock.move_to(T0 + timedelta(days=1, hours=14))  # 3 March, still the due day
    assert services.sla_sweep()["action_items_reminded"] == 0
    clock.move_to(T0 + timedelta(days=2))  # 4 March: past the due date
    assert services.sla_sweep()["action_items_reminded"] == 1
    assert services.sla_sweep()["action_items_reminded"] == 0
    clock.move_to(T0 + timedelta(days=9))
    assert services.sla_sweep()["action_items_reminded"] == 0
    assert sent(subject__startswith="Overdue action item") == {("email", owner.email)}
    assert ActionItem.objects.get(pk=item.pk).reminded_at == T0 + timedelta(days=2)


def test_done_items_are_never_reminded(clock, service, manager, team):
    incident = resolved(service)
    owner = team.members.first()
    review.action_item_complete(item=add_item(incident, manager, owner, due=date(2026, 3, 3)), by=owner)
    clock.move_to(T0 + timedelta(days=5))
    assert services.sla_sweep()["action_items_reminded"] == 0


def test_the_action_item_api(clock, service, manager, team, api_client):
    incident = resolved(service)
    owner = team.members.first()
    client = api_client(manager)
    url = f"{LIST}{incident.pk}/action-items/"
    response = client.post(url, {"title": "Alert", "owner": owner.pk, "due_date": "2026-03-10"}, format="json")
    assert response.status_code == 201, response.content
    item = response.json()
    assert (item["state"], item["owner"], item["due_date"], item["change"], item["overdue"]) == (
        "open", owner.pk, "2026-03-10", None, False)
    assert client.post(url, {"title": "Alert", "owner": owner.pk, "due_date": "2026-03-01"},
                       format="json").status_code == 400
    assert client.post(url, {"title": "Alert", "owner": 999999, "due_date": "2026-03-10"},
                       format="json").status_code == 400
    assert [row["id"] for row in client.get(url).json()] == [item["id"]]
    done = api_client(owner).post(f"{url}{item['id']}/complete/", {"note": "ok"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "done"
    assert client.post(f"{url}{item['id']}/complete/", {}, format="json").status_code == 409
    assert client.post(f"{url}999999/complete/", {}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("role", "may_add"),
    [(Role.SERVICE_DESK, False), (Role.INCIDENT_MANAGERS, True), (Role.CHANGE_MANAGERS, False),
     (Role.API_READERS, False), (Role.OPS_MANAGERS, False)],
)
def test_who_may_add_action_items(clock, service, team, user_in_role, api_client, role, may_add):
    incident = resolved(service)
    response = api_client(user_in_role(role)).post(
        f"{LIST}{incident.pk}/action-items/", {"title": "x", "owner": team.lead.pk, "due_date": "2026-03-10"},
        format="json",
    )
    assert response.status_code == (201 if may_add else 403)


def test_an_action_item_of_an_incident_one_may_not_see_is_404(clock, service, manager, team, api_client):
    incident = resolved(service, confidential=True)
    item = add_item(incident, manager, team.lead)
    outsider = UserFactory(roles=[Role.SERVICE_DESK, Role.CHANGE_MANAGERS])  # not of the incident's team
    client = api_client(outsider)
    base = f"{LIST}{incident.pk}/action-items/"
    assert client.get(base).status_code == 404
    assert client.post(base, {"title": "x", "owner": outsider.pk, "due_date": "2026-03-10"},
                       format="json").status_code == 404
    assert client.post(f"{base}{item.pk}/complete/", {}, format="json").status_code == 404
    assert client.post(f"{base}{item.pk}/raise-change/", {}, format="json").status_code == 404


def test_an_item_of_another_incident_is_404(clock, service, manager, team, api_client):
    one, other = resolved(service), resolved(service)
    item = add_item(one, manager, team.lead)
    assert api_client(manager).post(f"{LIST}{other.pk}/action-items/{item.pk}/complete/", {},
                                    format="json").status_code == 404


# --- raise a change ----------------------------------------------------------------------------


def test_raise_a_change_creates_a_draft_normal_change_linked_to_the_incident_and_the_item(
    clock, service, manager, team, change_manager, api_client
):
    incident = resolved(service)
    item = add_item(incident, manager, team.lead, title="Automate the certificate renewal")
    response = api_client(change_manager).post(f"{LIST}{incident.pk}/action-items/{item.pk}/raise-change/", {},
                                               format="json")
    assert response.status_code == 201, response.content
    change = ChangeRequest.objects.get()
    assert response.json()["change"] == change.pk and response.json()["change_number"] == change.number
    assert (change.state, change.change_type, change.requester, change.title) == (
        "draft", "normal", change_manager, "Automate the certificate renewal")
    assert list(change.incidents.all()) == [incident]
    assert list(change.services.all()) == [service]
    assert incident.number in change.description
    again = api_client(change_manager).post(f"{LIST}{incident.pk}/action-items/{item.pk}/raise-change/", {},
                                            format="json")
    assert again.status_code == 409 and change.number in again.json()["detail"]
    assert ChangeRequest.objects.count() == 1


def test_raise_a_change_needs_add_changerequest(clock, service, manager, team, api_client):
    incident = resolved(service)
    item = add_item(incident, manager, team.lead)
    response = api_client(manager).post(f"{LIST}{incident.pk}/action-items/{item.pk}/raise-change/", {},
                                        format="json")
    assert response.status_code == 403
    assert not ChangeRequest.objects.exists() and ActionItem.objects.get(pk=item.pk).change is None


def test_a_closed_item_gets_no_change(clock, service, manager, team, change_manager, api_client):
    incident = resolved(service)
    item = add_item(incident, manager, team.lead)
    review.action_item_cancel(item=item, by=manager, reason="Not needed.")
    assert api_client(change_manager).post(f"{LIST}{incident.pk}/action-items/{item.pk}/raise-change/", {},
                                           format="json").status_code == 409


def test_the_change_of_a_confidential_incident_does_not_name_it(clock, service, manager, team):
    from automation.incident_changes import action_item_raise_change

    incident = resolved(service, confidential=True)
    item = add_item(incident, manager, team.lead)
    raiser = UserFactory(roles=[Role.CHANGE_MANAGERS])
    team.members.add(raiser)  # a change manager in the incident's team may see it
    change = action_item_raise_change(item=item, by=raiser)
    assert incident.number not in change.description
    assert "a confidential incident" in change.description


def test_raise_a_change_from_the_page(clock, client, service, manager, team, change_manager):
    incident = resolved(service)
    item = add_item(incident, manager, team.lead)
    client.force_login(change_manager)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert reverse("automation:raise-change", args=[item.pk]) in page
    response = client.post(reverse("automation:raise-change", args=[item.pk]), follow=True)
    change = ChangeRequest.objects.get()
    assert f"{change.number} raised as a draft normal change" in response.content.decode()
    client.force_login(manager)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert reverse("automation:raise-change", args=[item.pk]) not in page  # no permission, and raised already
    assert change.number in page


# --- the page's review section -----------------------------------------------------------------


def test_the_review_section_adds_items_and_saves_the_review(clock, client, service, manager, team):
    incident = resolved(service)
    client.force_login(manager)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="review"' in page and "Follow-up due" in page
    response = client.post(reverse("incidents:action-item-add", args=[incident.pk]),
                           {"title": "", "owner": team.lead.pk, "due_date": "2026-03-10"})
    assert response.status_code == 400 and "Say what is to be done." in response.content.decode()
    response = client.post(reverse("incidents:action-item-add", args=[incident.pk]),
                           {"title": "Alert", "owner": team.lead.pk, "due_date": "2026-03-10"})
    assert response.status_code == 302 and ActionItem.objects.filter(incident=incident, title="Alert").exists()
    response = client.post(reverse("incidents:review", args=[incident.pk]),
                           {"root_cause": "Disk full.", "lessons_learned": "", "preventive_measures": ""})
    assert response.status_code == 302
    assert reload(incident).root_cause == "Disk full."
    assert IncidentStep.objects.get(incident=incident, key="root_cause_analysis").state == "done"


# --- caller fields ---------------------------------------------------------------------------


def test_caller_fields_over_the_api_and_the_form(clock, client, service, desk, api_client):
    response = api_client(desk).post(LIST, {"title": "x", "service": service.pk, "severity": "low",
                                            "caller_name": "Ann Lee", "caller_email": "ann@example.com"},
                                     format="json")
    assert response.status_code == 201
    assert (response.json()["caller_name"], response.json()["caller_email"]) == ("Ann Lee", "ann@example.com")
    bad = api_client(desk).post(LIST, {"title": "x", "service": service.pk, "severity": "low",
                                       "caller_email": "not-an-address"}, format="json")
    assert bad.status_code == 400 and "caller_email" in bad.json()
    client.force_login(desk)
    response = client.post(reverse("incidents:create"), {"title": "Printer", "service": service.pk,
                                                         "severity": "low", "caller_name": "Bo",
                                                         "caller_email": "bo@example.com"})
    assert response.status_code == 302
    assert Incident.objects.filter(caller_name="Bo", caller_email="bo@example.com").exists()
    patched = api_client(desk).patch(f"{LIST}{response.url.rstrip('/').split('/')[-1]}/",
                                     {"caller_email": "bo2@example.com"}, format="json")
    assert patched.status_code == 200 and patched.json()["caller_email"] == "bo2@example.com"


def test_an_outsider_of_another_team_sees_no_process_rows_in_the_admin(clock, client, service, manager, team):
    incident = resolved(service, confidential=True)
    add_item(incident, manager, team.lead)
    staff = UserFactory(is_staff=True, roles=[Role.SERVICE_DESK])
    TeamFactory().members.add(staff)
    client.force_login(staff)
    for model in ("incidentstep", "actionitem", "statusupdate"):
        response = client.get(reverse(f"admin:incidents_{model}_changelist"))
        assert response.status_code == 200
        assert incident.number not in response.content.decode()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert incident.number in client.get(reverse("admin:incidents_actionitem_changelist")).content.decode()


def test_the_process_targets_are_edited_with_the_policy_and_re_time_nothing(clock, service, manager):
    from incidents import calendars

    incident = log(service)
    due = incident.resolution_due
    policy = SLAPolicy.objects.get(severity="medium")
    root = UserFactory(is_superuser=True, is_staff=True)
    calendars.sla_policy_update(policy=policy, by=root, follow_up_time=timedelta(hours=48),
                                detection_time=timedelta(minutes=30))
    assert reload(incident).resolution_due == due
    assert not TransitionLog.objects.filter(object_id=incident.pk, transition="retime_sla").exists()
    with pytest.raises(DomainValidationError) as exc:
        calendars.sla_policy_update(policy=policy, by=root, follow_up_time=timedelta(0))
    assert "follow_up_time" in exc.value.errors
    assert resolved(service).follow_up_due == T0 + timedelta(hours=48)
