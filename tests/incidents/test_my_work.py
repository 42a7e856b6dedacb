"""My work, Assign to me, acknowledging assigns, bulk actions on the queue, the live incident page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import Incident
from opsdesk.choices import Role
from opsdesk.models import TransitionLog
from tests.factories import IncidentFactory, TeamFactory, UserFactory

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk(user_in_role):
    return user_in_role(Role.SERVICE_DESK, username="desk", first_name="Dana", last_name="Desk")


@pytest.fixture
def team(desk):
    return TeamFactory(name="Platform", members=[desk])


def rows(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="incident-(\d+)"', response.content.decode())]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- My work ---------------------------------------------------------------------------


def test_my_work_is_the_default_queue_my_open_incidents_and_my_teams_unassigned(client, desk, team, frozen):
    mine = IncidentFactory(assignee=desk, team=TeamFactory(), detected_at=NOW - timedelta(minutes=30))
    teams_unassigned = IncidentFactory(team=team, assignee=None, detected_at=NOW - timedelta(minutes=20))
    colleague = UserFactory()
    team.members.add(colleague)
    IncidentFactory(team=team, assignee=colleague)  # a colleague's: not mine
    IncidentFactory(team=TeamFactory(), assignee=None)  # another team's
    closed_mine = IncidentFactory(assignee=desk)
    services.incident_transition(instance=closed_mine, name="cancel", by=None, reason="false_alarm")
    client.force_login(desk)
    response = client.get(reverse("incidents:list"))
    assert set(rows(response)) == {mine.pk, teams_unassigned.pk}
    content = response.content.decode()
    assert re.search(r'class="btn btn-primary active" href="\?view=mine" aria-current="page"', content)
    assert 'href="?view=open" data-view' not in content or 'btn-outline-secondary" href="?view=open"' in content


def test_the_default_queue_of_readers_is_open_incidents_without_closed_or_cancelled(client, user_in_role, frozen):
    reader = user_in_role(Role.API_READERS)
    open_one = IncidentFactory()
    cancelled = IncidentFactory()
    services.incident_transition(instance=cancelled, name="cancel", by=None, reason="duplicate")
    client.force_login(reader)
    response = client.get(reverse("incidents:list"))
    assert rows(response) == [open_one.pk]
    assert "My work" not in response.content.decode()
    assert set(rows(client.get(reverse("incidents:list") + "?view=all"))) == {open_one.pk, cancelled.pk}


def test_the_queue_puts_the_least_remaining_time_first_then_severity(client, desk, team, frozen):
    # critical: response 15 min; low: response 4 h (business-hours calendars aside, both 24 × 7 here)
    low_late = IncidentFactory(team=team, severity="low", detected_at=NOW - timedelta(hours=3, minutes=50))
    critical_fresh = IncidentFactory(team=team, severity="critical", detected_at=NOW - timedelta(minutes=1))
    high_breached = IncidentFactory(team=team, severity="high", detected_at=NOW - timedelta(hours=1))
    medium_new = IncidentFactory(team=team, severity="medium", detected_at=NOW - timedelta(minutes=1))
    client.force_login(desk)
    order = rows(client.get(reverse("incidents:list")))
    # high: response over by 30 min; low: 10 min left; critical: 14 min left; medium: 1 h 59 min left
    assert order == [high_breached.pk, low_late.pk, critical_fresh.pk, medium_new.pk]


def test_sla_colour_follows_the_share_of_the_target_left(client, desk, team, frozen):
    calm = IncidentFactory(team=team, severity="low", detected_at=NOW - timedelta(hours=1))  # 3 h of 4 h left
    urgent = IncidentFactory(team=team, severity="critical", detected_at=NOW - timedelta(minutes=1))  # 14 of 15 min
    halfway = IncidentFactory(team=team, severity="medium", detected_at=NOW - timedelta(hours=1, minutes=10))
    client.force_login(desk)
    content = client.get(reverse("incidents:list")).content.decode()

    def colour(incident):
        row = re.search(rf'id="incident-{incident.pk}".*?</tr>', content, re.S).group(0)
        return re.search(r'<div class="(sla-[a-z]+)" data-sla-status', row).group(1)

    assert colour(calm) == "sla-ok"
    assert colour(urgent) == "sla-soon"  # 14 min left is not the same green
    assert colour(halfway) == "sla-soon"  # 50 min of 2 h left


# --- Assign to me ---------------------------------------------------------------------------


def test_assign_to_me_from_the_queue_and_back_to_it(client, desk, team, frozen):
    incident = IncidentFactory(team=team)
    client.force_login(desk)
    page = client.get(reverse("incidents:list")).content.decode()
    assert f'formaction="{reverse("incidents:assign-to-me", args=[incident.pk])}"' in page
    response = client.post(reverse("incidents:assign-to-me", args=[incident.pk]), {"next": "/incidents/?view=mine"})
    assert response.status_code == 302 and response["Location"] == "/incidents/?view=mine"
    incident.refresh_from_db()
    assert incident.assignee == desk
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="assign", user=desk).exists()
    # assigned to me now: no button any more
    page = client.get(reverse("incidents:list")).content.decode()
    assert f'data-assign-to-me="{incident.number}"' not in page


def test_assign_to_me_is_refused_outside_the_incidents_team(client, desk, team, frozen):
    incident = IncidentFactory(team=TeamFactory(name="Network"))
    client.force_login(desk)
    assert 'id="assign-to-me-form"' not in client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    response = client.post(reverse("incidents:assign-to-me", args=[incident.pk]))
    assert response.status_code == 302
    assert any("not an active member of the Network team" in m for m in messages_of(response))
    incident.refresh_from_db()
    assert incident.assignee is None


def test_assign_to_me_on_the_incident_page(client, desk, team, frozen):
    incident = IncidentFactory(team=team)
    client.force_login(desk)
    assert 'id="assign-to-me-form"' in client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    response = client.post(reverse("incidents:assign-to-me", args=[incident.pk]))
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    incident.refresh_from_db()
    assert incident.assignee == desk


def test_readers_may_not_assign_to_themselves(client, user_in_role, frozen):
    incident = IncidentFactory()
    client.force_login(user_in_role(Role.API_READERS))
    assert client.post(reverse("incidents:assign-to-me", args=[incident.pk])).status_code == 403


# --- acknowledging assigns ----------------------------------------------------------------------


def test_acknowledging_an_unassigned_incident_assigns_it_to_the_acknowledger(desk, team, frozen):
    incident = IncidentFactory(team=team)
    incident = services.incident_transition(instance=incident, name="acknowledge", by=desk)
    incident.refresh_from_db()
    assert incident.assignee == desk
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="assign").count() == 1


def test_acknowledging_keeps_an_existing_assignee_and_never_assigns_an_outsider(user_in_role, desk, team, frozen):
    colleague = UserFactory()
    team.members.add(colleague)
    assigned = IncidentFactory(team=team, assignee=colleague)
    services.incident_transition(instance=assigned, name="acknowledge", by=desk)
    assigned.refresh_from_db()
    assert assigned.assignee == colleague
    manager = user_in_role(Role.INCIDENT_MANAGERS)  # not in the team
    other = IncidentFactory(team=team)
    services.incident_transition(instance=other, name="acknowledge", by=manager)
    other.refresh_from_db()
    assert other.assignee is None and other.state == Incident.State.RESPONDING


def test_acknowledging_through_the_api_assigns_too(api_client, desk, team, frozen):
    incident = IncidentFactory(team=team)
    response = api_client(desk).post(f"/api/v1/incidents/{incident.pk}/acknowledge/", {}, format="json")
    assert response.status_code == 200, response.content
    incident.refresh_from_db()
    assert incident.assignee == desk


# --- bulk actions -----------------------------------------------------------------------------


def bulk(client, action, incidents, **data):
    return client.post(reverse("incidents:bulk"), {
        "action": action, "incident": [i.pk for i in incidents], "next": "/incidents/?view=open", **data,
    })


def test_bulk_acknowledge_reports_each_refusal_with_its_incident(client, desk, team, frozen):
    first, second = IncidentFactory(team=team), IncidentFactory(team=team)
    already = IncidentFactory(team=team)
    services.incident_transition(instance=already, name="acknowledge", by=None)
    client.force_login(desk)
    response = bulk(client, "acknowledge", [first, second, already])
    assert response.status_code == 302 and response["Location"] == "/incidents/?view=open"
    messages = messages_of(response)
    assert f"Acknowledged 2 incidents: {first.number}, {second.number}." in messages
    assert any(m.startswith(f"{already.number} not changed: Cannot acknowledge") for m in messages)
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.state == Incident.State.RESPONDING and incident.assignee == desk


def test_bulk_assign_goes_through_the_assign_service_per_incident(client, desk, team, frozen):
    colleague = UserFactory(first_name="Sam", last_name="Patel", roles=[Role.SERVICE_DESK])
    team.members.add(colleague)
    ours = IncidentFactory(team=team)
    theirs = IncidentFactory(team=TeamFactory(name="Network"))
    client.force_login(desk)
    response = bulk(client, "assign", [ours, theirs], assignee=colleague.pk)
    messages = messages_of(response)
    assert f"Assigned 1 incident: {ours.number}." in messages
    assert f"{theirs.number} not changed: Sam Patel is not an active member of the Network team." in messages
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.assignee == colleague and theirs.assignee is None


def test_bulk_severity_needs_the_permission_per_row_and_works_for_managers(client, desk, user_in_role, frozen):
    incident = IncidentFactory(severity="low")
    client.force_login(desk)
    assert 'value="severity"' not in client.get(reverse("incidents:list") + "?view=open").content.decode()
    messages = messages_of(bulk(client, "severity", [incident], severity="high"))
    assert any(m.startswith(f"{incident.number} not changed: You may not change the severity") for m in messages)
    incident.refresh_from_db()
    assert incident.severity == "low"
    client.force_login(user_in_role(Role.INCIDENT_MANAGERS))
    messages = messages_of(bulk(client, "severity", [incident], severity="high"))
    assert f"Changed the severity of 1 incident: {incident.number}." in messages
    incident.refresh_from_db()
    assert incident.severity == "high"


def test_bulk_without_a_tick_or_an_action_says_what_is_missing(client, desk, frozen):
    client.force_login(desk)
    response = client.post(reverse("incidents:bulk"), {"action": "acknowledge"})
    assert response.status_code == 302
    assert "Tick at least one incident first." in messages_of(response)
    incident = IncidentFactory()
    response = client.post(reverse("incidents:bulk"), {"incident": [incident.pk], "action": "severity"})
    assert "Choose the new severity." in messages_of(response)
    response = client.post(reverse("incidents:bulk"), {"incident": ["x"], "action": "acknowledge"})
    assert response.status_code == 302


# --- the live incident page ---------------------------------------------------------------------


def live(client, incident, version):
    return client.get(reverse("incidents:live", args=[incident.pk]), {"version": version})


def test_the_page_polls_its_live_parts_with_the_version_it_was_rendered_with(client, desk, frozen, settings):
    settings.OPSDESK_LIVE_POLL_SECONDS = 7
    incident = IncidentFactory()
    client.force_login(desk)
    content = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    poll = re.search(r'<div id="incident-live" hx-get="([^"]+)" hx-trigger="every 7s, refresh"', content)
    assert poll, "the page polls its live parts"
    assert "<script>" not in content  # no inline script
    response = client.get(poll.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    body = response.content.decode()
    for part in ('id="sla" hx-swap-oob="true"', 'id="incident-badges" hx-swap-oob="true"',
                 'id="timeline-entries" hx-swap-oob="true"', 'id="live-notice" role="status" aria-live="polite" '
                 'hx-swap-oob="true"'):
        assert part in body
    assert "changed since you opened this page" not in body


def test_the_live_sla_panel_moves_with_the_clock(client, desk, frozen):
    incident = IncidentFactory(severity="critical", detected_at=NOW)
    client.force_login(desk)
    version = incident.updated_at.isoformat()
    assert "15 min" in live(client, incident, version).content.decode()
    frozen.shift(timedelta(minutes=5))
    assert "10 min" in live(client, incident, version).content.decode()


def test_a_notice_says_someone_else_changed_the_incident_since_the_page_was_opened(
    client, desk, user_in_role, frozen
):
    incident = IncidentFactory()
    version = incident.updated_at.isoformat()
    frozen.shift(timedelta(minutes=2))
    other = user_in_role(Role.INCIDENT_MANAGERS, first_name="Ines", last_name="Manager")
    services.incident_transition(instance=incident, name="acknowledge", by=other)
    client.force_login(desk)
    body = live(client, incident, version).content.decode()
    assert "This incident changed since you opened this page." in body
    assert "Acknowledged by Ines Manager at 10:02" in body
    assert "Responding" in body  # the state badge is live too
    incident.refresh_from_db()
    assert "changed since" not in live(client, incident, incident.updated_at.isoformat()).content.decode()


def test_live_refuses_a_bad_version_and_hides_what_the_user_may_not_see(client, desk, frozen):
    incident = IncidentFactory()
    client.force_login(desk)
    assert live(client, incident, "yesterday").status_code == 400
    without = client.get(reverse("incidents:live", args=[incident.pk]))  # no version: the parts, no notice
    assert without.status_code == 200 and "changed since" not in without.content.decode()
    secret = IncidentFactory(confidential=True)
    assert live(client, secret, secret.updated_at.isoformat()).status_code == 404


def test_live_query_count_does_not_grow_with_the_timeline(client, desk, frozen):
    incident = IncidentFactory()
    client.force_login(desk)
    url = reverse("incidents:live", args=[incident.pk])
    version = {"version": incident.updated_at.isoformat()}
    client.get(url, version)
    with CaptureQueriesContext(connection) as first:
        client.get(url, version)
    for i in range(5):
        services.incident_add_note(incident=incident, by=desk, body=f"note {i}")
    services.incident_transition(instance=incident, name="acknowledge", by=None)
    with CaptureQueriesContext(connection) as second:
        client.get(url, version)
    assert len(second.captured_queries) == len(first.captured_queries)
