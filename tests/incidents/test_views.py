"""The incident web pages: log form, queue, incident page, transitions, notes, edits, permissions, query counts."""

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
from incidents.models import Incident, IncidentNote
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError
from opsdesk.models import TransitionLog
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def svc():
    return ServiceFactory(name="Checkout", slug="checkout")


@pytest.fixture
def desk(user_in_role):
    return user_in_role(Role.SERVICE_DESK, username="desk")


@pytest.fixture
def manager(user_in_role):
    return user_in_role(Role.INCIDENT_MANAGERS, username="manager")


def logged_in(client, user):
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def transition_buttons(response) -> list[str]:
    return re.findall(r'data-transition="([a-z_]+)"', response.content.decode())


def post_transition(client, incident, name, **data):
    data.setdefault("expected_state", incident.state)
    return client.post(reverse("incidents:transition", args=[incident.pk, name]), data)


# --- access ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [("incidents:list", []), ("incidents:create", []), ("incidents:detail", [1]), ("incidents:edit", [1])],
)
def test_anonymous_users_are_sent_to_the_login_page(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_anonymous_post_of_a_transition_is_sent_to_login_and_changes_nothing(client):
    incident = IncidentFactory()
    response = post_transition(client, incident, "acknowledge")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    incident.refresh_from_db()
    assert incident.state == Incident.State.DETECTED


def test_user_without_any_role_gets_403_on_the_queue(client):
    response = logged_in(client, UserFactory()).get(reverse("incidents:list"))
    assert response.status_code == 403
    assert "viewing incidents" in response.content.decode()


@pytest.mark.parametrize("role", [Role.API_READERS, Role.CHANGE_MANAGERS, Role.RELEASE_MANAGERS])
def test_roles_without_add_incident_get_403_on_the_log_form(client, user_in_role, svc, role):
    client = logged_in(client, user_in_role(role))
    assert client.get(reverse("incidents:create")).status_code == 403
    response = client.post(reverse("incidents:create"), {"title": "x", "service": svc.pk, "severity": "low"})
    assert response.status_code == 403
    assert "You are not allowed to do that" in response.content.decode()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("role", [Role.API_READERS, Role.CHANGE_MANAGERS])
def test_roles_without_transition_permission_get_403(client, user_in_role, role):
    incident = IncidentFactory()
    response = post_transition(logged_in(client, user_in_role(role)), incident, "acknowledge")
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.state == Incident.State.DETECTED


def test_api_reader_sees_the_page_but_no_action(client, api_reader):
    incident = IncidentFactory()
    response = logged_in(client, api_reader).get(reverse("incidents:detail", args=[incident.pk]))
    assert response.status_code == 200
    assert transition_buttons(response) == []
    content = response.content.decode()
    assert "Your role has no step to take" in content
    assert 'id="note-form"' not in content
    assert "Edit details" not in content


# --- log an incident -------------------------------------------------------------


def test_log_form_renders_with_started_at_now(client, desk, frozen):
    response = logged_in(client, desk).get(reverse("incidents:create"))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="started_at" value="2026-03-14T10:00"' in content
    assert "Log incident" in content
    # the SLA targets come from the policies
    assert "15 min" in content and "24 h" in content


def test_logging_an_incident_creates_it_and_opens_its_page(client, desk, svc, frozen):
    response = logged_in(client, desk).post(
        reverse("incidents:create"),
        {
            "title": "Checkout returns 502",
            "service": svc.pk,
            "severity": "critical",
            "description": "EU only",
            "started_at": "2026-03-14T09:40",
            "customers_affected": "250",
            "confidential": "on",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    assert incident.title == "Checkout returns 502"
    assert incident.service == svc
    assert incident.team == svc.owner_team
    assert incident.severity == "critical"
    assert incident.description == "EU only"
    assert incident.reporter == desk
    assert incident.detected_at == NOW
    assert incident.started_at == datetime(2026, 3, 14, 9, 40, tzinfo=UTC)
    assert incident.customers_affected == 250
    assert incident.confidential is True
    assert incident.state == Incident.State.DETECTED
    assert incident.response_due == NOW + timedelta(minutes=15)
    assert incident.resolution_due == NOW + timedelta(hours=2)
    assert messages_of(response) == [f"{incident.number} logged. The critical SLA clock is running."]


def test_logging_without_started_at_uses_the_detection_time_and_the_chosen_team(client, desk, svc, frozen):
    team = TeamFactory(name="Night shift")
    logged_in(client, desk).post(
        reverse("incidents:create"), {"title": "t", "service": svc.pk, "severity": "low", "team": team.pk}
    )
    incident = Incident.objects.get()
    assert incident.started_at == NOW
    assert incident.team == team
    assert incident.customers_affected == 0


def test_log_form_reads_started_at_in_the_site_time_zone(client, desk, svc, frozen, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    logged_in(client, desk).post(
        reverse("incidents:create"),
        {"title": "t", "service": svc.pk, "severity": "low", "started_at": "2026-03-14T10:45"},
    )
    assert Incident.objects.get().started_at == datetime(2026, 3, 14, 9, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "Give the incident a short title."),
        ({"title": "x" * 201}, "Keep the title to 200 characters (it has 201)."),
        ({"service": ""}, "Choose the affected service."),
        ({"service": "424242"}, "That service does not exist; choose one from the list."),
        ({"severity": ""}, "Choose a severity."),
        ({"severity": "apocalyptic"}, "Choose a severity: critical, high, medium or low."),
        ({"started_at": "2026-03-14T10:05"}, "Impact cannot start in the future"),
        ({"started_at": "14/03/2026 nine"}, "Enter a date and time, e.g. 2026-03-14 09:30."),
        ({"customers_affected": "-5"}, "Customers affected cannot be negative."),
        ({"customers_affected": "lots"}, "Enter a whole number of customers (0 if unknown)."),
        ({"team": "424242"}, "That team does not exist; choose one from the list."),
    ],
)
def test_log_form_shows_every_error_and_creates_nothing(client, desk, svc, frozen, overrides, message):
    data = {"title": "t", "service": svc.pk, "severity": "high", "started_at": "2026-03-14T09:00",
            "customers_affected": "3", **overrides}
    response = logged_in(client, desk).post(reverse("incidents:create"), data)
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert "Please correct the 1 field marked below." in content
    assert not Incident.objects.exists()


def test_log_form_shows_the_services_domain_errors_on_the_form(client, desk, svc, frozen, monkeypatch):
    def refuse(**kwargs):
        raise DomainValidationError({"started_at": "Impact cannot start after detection.", "detected_at": "Odd."})

    monkeypatch.setattr(services, "incident_create", refuse)
    response = logged_in(client, desk).post(
        reverse("incidents:create"), {"title": "t", "service": svc.pk, "severity": "high"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Impact cannot start after detection." in content  # on the field
    assert "Odd." in content  # no such field on the form: a non-field error


# --- the queue ----------------------------------------------------------------------


def queue_numbers(response) -> list[str]:
    return re.findall(r'id="incident-(\d+)"', response.content.decode())


def test_queue_all_view_lists_visible_incidents_most_urgent_first(client, desk, frozen):
    older = IncidentFactory(detected_at=NOW - timedelta(hours=2))
    newer = IncidentFactory(detected_at=NOW - timedelta(hours=1))
    response = logged_in(client, desk).get(reverse("incidents:list") + "?view=all")
    assert response.status_code == 200
    assert queue_numbers(response) == [str(older.pk), str(newer.pk)]  # the older one's deadline comes first
    content = response.content.decode()
    assert newer.number in content and "Log an incident" in content


def test_queue_filters_by_state_severity_service_breached_and_search(client, desk, frozen):
    svc = ServiceFactory()
    critical = IncidentFactory(severity="critical", title="Checkout down", detected_at=NOW - timedelta(minutes=5))
    on_svc = IncidentFactory(service=svc, description="Card terminal timeouts", detected_at=NOW - timedelta(minutes=6))
    breached = IncidentFactory(response_breached=True, detected_at=NOW - timedelta(minutes=7))
    acknowledged = IncidentFactory(detected_at=NOW - timedelta(minutes=8))
    services.incident_transition(instance=acknowledged, name="acknowledge", by=None)
    client = logged_in(client, desk)

    def rows(query):  # newest first, to read the filters alone
        return queue_numbers(client.get(reverse("incidents:list") + query + "&sort=-detected_at"))

    assert rows("?state=responding") == [str(acknowledged.pk)]
    assert rows("?state=detected&state=responding") == [str(critical.pk), str(on_svc.pk), str(breached.pk),
                                                          str(acknowledged.pk)]
    assert rows("?severity=critical") == [str(critical.pk)]
    assert rows(f"?service={svc.pk}") == [str(on_svc.pk)]
    assert rows("?breached=true") == [str(breached.pk)]
    assert rows("?breached=false") == [str(critical.pk), str(on_svc.pk), str(acknowledged.pk)]
    assert rows("?q=checkout") == [str(critical.pk)]
    assert rows("?q=terminal") == [str(on_svc.pk)]  # description
    assert rows(f"?q={breached.number}") == [str(breached.pk)]
    assert rows("?q=nothing-like-this") == []


def test_queue_hides_confidential_incidents_from_others(client, user_in_role, frozen):
    reporter = user_in_role(Role.SERVICE_DESK)
    member = user_in_role(Role.SERVICE_DESK)
    outsider = user_in_role(Role.SERVICE_DESK)
    manager = user_in_role(Role.INCIDENT_MANAGERS)
    team = TeamFactory(members=[member])
    secret = IncidentFactory(confidential=True, reporter=reporter, team=team, title="Leaked keys")
    public = IncidentFactory(title="Slow search")
    for user, expected in [
        (outsider, [str(public.pk)]),
        (reporter, sorted([str(public.pk), str(secret.pk)])),
        (member, sorted([str(public.pk), str(secret.pk)])),
        (manager, sorted([str(public.pk), str(secret.pk)])),
    ]:
        client.force_login(user)
        response = client.get(reverse("incidents:list") + "?view=all")
        assert sorted(queue_numbers(response)) == expected
        assert ("Leaked keys" in response.content.decode()) == (str(secret.pk) in expected)
        # the search does not leak it either
        assert (str(secret.pk) in queue_numbers(client.get(reverse("incidents:list") + "?view=all&q=Leaked"))) == (
            str(secret.pk) in expected
        )


def test_queue_paginates_25_by_default_and_takes_a_page_size(client, desk, frozen):
    for i in range(30):
        IncidentFactory(detected_at=NOW - timedelta(minutes=i))
    client = logged_in(client, desk)
    first = client.get(reverse("incidents:list") + "?view=all")
    assert len(queue_numbers(first)) == 25
    assert "Incidents 1–25 of 30" in first.content.decode()
    assert len(queue_numbers(client.get(reverse("incidents:list") + "?view=all&page=2"))) == 5
    assert len(queue_numbers(client.get(reverse("incidents:list") + "?view=all&per_page=10"))) == 10
    assert len(queue_numbers(client.get(reverse("incidents:list") + "?view=all&per_page=50"))) == 30
    # a page size that is not offered falls back to 25
    assert len(queue_numbers(client.get(reverse("incidents:list") + "?view=all&per_page=100000"))) == 25
    # past the end: the last page
    assert len(queue_numbers(client.get(reverse("incidents:list") + "?view=all&page=99"))) == 5
    assert len(queue_numbers(client.get(reverse("incidents:list") + "?view=all&page=x"))) == 25


def test_queue_sorts_by_severity_rank_not_alphabet(client, desk, frozen):
    low = IncidentFactory(severity="low")
    critical = IncidentFactory(severity="critical")
    medium = IncidentFactory(severity="medium")
    high = IncidentFactory(severity="high")
    client = logged_in(client, desk)
    assert queue_numbers(client.get(reverse("incidents:list") + "?view=all&sort=severity")) == [
        str(critical.pk), str(high.pk), str(medium.pk), str(low.pk)]
    assert queue_numbers(client.get(reverse("incidents:list") + "?view=all&sort=-severity")) == [
        str(low.pk), str(medium.pk), str(high.pk), str(critical.pk)]


def test_queue_shows_each_sla_clock_in_colour(client, desk, frozen):
    fresh = IncidentFactory(severity="critical", detected_at=NOW - timedelta(minutes=3))  # 12 min left
    warning = IncidentFactory(severity="critical", detected_at=NOW - timedelta(minutes=13))  # 2 of 15 min left
    late = IncidentFactory(severity="critical", detected_at=NOW - timedelta(minutes=40))  # response over by 25 min
    held = IncidentFactory(severity="medium", detected_at=NOW - timedelta(hours=1))
    services.incident_transition(instance=held, name="acknowledge", by=None, at=NOW - timedelta(minutes=50))
    services.incident_transition(instance=held, name="hold", by=None, at=NOW - timedelta(minutes=30))
    content = logged_in(client, desk).get(reverse("incidents:list") + "?view=open").content.decode()

    def cell(incident):
        row = re.search(rf'id="incident-{incident.pk}".*?</tr>', content, re.S).group(0)
        return re.search(r'<div class="(sla-[a-z]+)" data-sla-status="[a-z]*">([^<]+)</div>', row).groups()

    assert cell(fresh) == ("sla-soon", "12 min left")  # 12 of 15 min left, but under half an hour
    assert cell(warning) == ("sla-warning", "2 min left")
    assert cell(late) == ("sla-breached", "breached by 25 min")
    # 8 h window, 30 min used before the hold: 7 h 30 min left, frozen
    assert cell(held) == ("sla-paused", "7 h 30 min left")
    assert "resolution<span class=\"sla-paused-reason\">paused: on hold</span>" in content


def test_queue_htmx_refresh_returns_only_the_table(client, desk, frozen):
    IncidentFactory()
    response = logged_in(client, desk).get(reverse("incidents:list"), headers={"HX-Request": "true"})
    content = response.content.decode()
    assert content.lstrip().startswith("<div id=\"incident-table\"") or 'id="incident-table"' in content[:300]
    assert "<nav" not in content.split('id="incident-table"')[0]
    assert "<html" not in content


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# session, user, user perms, group perms, user roles (nav), the user's teams (My work and
# "Assign to me"), COUNT, the page's ids in the queue's order, the page's rows (the columns the
# cells read, with the service's, team's and assignee's names), the SLA policies with their
# calendars (once for every row), the filter form's choices: services, teams; the people who
# work incidents (the filter's and the bulk form's assignees, read once); the major-incident
# banner; the user's saved filters of the queue.
QUEUE_QUERIES = 15
# session, user, user perms, group perms, user roles (nav), the incident (joined), its SLA
# policy with its calendar, content type (unless cached), transition log, notes, notifications,
# the incident's alerts; the major-incident banner, the checklist, action items, status updates,
# the action-item owners; the attachments; whether the user may be its assignee ("Assign to me").
DETAIL_QUERIES = 19


def test_queue_query_count_does_not_grow_with_rows(client, desk, frozen, django_assert_num_queries):
    client = logged_in(client, desk)
    assignee = UserFactory()
    for i in range(5):
        IncidentFactory(assignee=assignee, detected_at=NOW - timedelta(minutes=i))
    five = queries_for(client, reverse("incidents:list") + "?view=all")
    assert five == QUEUE_QUERIES
    for i in range(25):
        IncidentFactory(assignee=UserFactory(), severity="critical", detected_at=NOW - timedelta(minutes=10 + i))
    with django_assert_num_queries(five):
        response = client.get(reverse("incidents:list") + "?view=all&per_page=50")
    assert len(queue_numbers(response)) == 30
    with django_assert_num_queries(five):
        client.get(reverse("incidents:list") + "?per_page=50&state=detected&severity=critical&sort=-severity")
    for i in range(3):
        IncidentFactory(assignee=desk, detected_at=NOW - timedelta(minutes=40 + i))
    with django_assert_num_queries(five):  # the default view, My work
        response = client.get(reverse("incidents:list") + "?per_page=100")
    assert len(queue_numbers(response)) == 3


# --- the incident page ------------------------------------------------------------


def test_incident_page_shows_header_sla_and_timeline(client, manager, frozen):
    incident = IncidentFactory(
        severity="high", customers_affected=42, title="Checkout 502", detected_at=NOW - timedelta(minutes=40)
    )
    services.incident_transition(
        instance=incident, name="acknowledge", by=manager, comment="Looking", at=NOW - timedelta(minutes=20)
    )
    services.incident_add_note(incident=incident, by=manager, body="Rolled back the deploy")
    response = logged_in(client, manager).get(reverse("incidents:detail", args=[incident.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert incident.number in content and "Checkout 502" in content
    assert ">42<" in content
    assert 'data-clock="response"' in content and 'data-clock="resolution"' in content
    assert "Acknowledged" in content and "Looking" in content
    assert "Rolled back the deploy" in content
    sla = response.context["sla"]
    assert sla.response.status == "met"
    assert sla.resolution.remaining_seconds == (4 * 3600) - 40 * 60


def test_service_desk_sees_acknowledge_and_resolve_only(client, desk, frozen):
    incident = IncidentFactory()
    response = logged_in(client, desk).get(reverse("incidents:detail", args=[incident.pk]))
    assert transition_buttons(response) == ["acknowledge", "resolve"]
    content = response.content.decode()
    assert "Cancel incident" not in content and "Put on hold" not in content
    assert 'id="severity-form"' not in content and 'id="escalate-form"' not in content
    assert 'id="note-form"' in content and "Edit details" in content


def test_buttons_follow_the_state_and_the_role(client, manager, frozen):
    incident = IncidentFactory()
    client = logged_in(client, manager)
    assert transition_buttons(client.get(reverse("incidents:detail", args=[incident.pk]))) == [
        "acknowledge", "resolve", "cancel"]
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    response = client.get(reverse("incidents:detail", args=[incident.pk]))
    assert transition_buttons(response) == ["resolve", "hold", "cancel"]
    assert 'id="severity-form"' in response.content.decode()
    assert 'id="escalate-form"' in response.content.decode()
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="Fixed")
    assert transition_buttons(client.get(reverse("incidents:detail", args=[incident.pk]))) == ["reopen", "close"]


def test_confidential_incident_is_404_for_others(client, user_in_role, frozen):
    incident = IncidentFactory(confidential=True)
    client = logged_in(client, user_in_role(Role.SERVICE_DESK))
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 404
    assert post_transition(client, incident, "acknowledge").status_code == 404
    assert client.post(reverse("incidents:note", args=[incident.pk]), {"body": "x"}).status_code == 404
    assert client.get(reverse("incidents:edit", args=[incident.pk])).status_code == 404
    incident.refresh_from_db()
    assert incident.state == Incident.State.DETECTED
    assert not IncidentNote.objects.exists()


def test_confidential_incident_is_visible_to_its_reporter(client, desk, frozen):
    incident = IncidentFactory(confidential=True, reporter=desk)
    assert logged_in(client, desk).get(reverse("incidents:detail", args=[incident.pk])).status_code == 200


def test_unknown_incident_and_unknown_transition_are_404(client, manager):
    incident = IncidentFactory()
    client = logged_in(client, manager)
    assert client.get(reverse("incidents:detail", args=[999999])).status_code == 404
    assert post_transition(client, incident, "explode").status_code == 404
    assert post_transition(client, incident, "save").status_code == 404


def test_transition_view_refuses_get(client, manager):
    incident = IncidentFactory()
    response = logged_in(client, manager).get(reverse("incidents:transition", args=[incident.pk, "acknowledge"]))
    assert response.status_code == 405


def test_detail_query_count_does_not_grow_with_the_timeline(client, manager, frozen, django_assert_num_queries):
    incident = IncidentFactory()
    client = logged_in(client, manager)
    url = reverse("incidents:detail", args=[incident.pk])
    services.incident_add_note(incident=incident, by=manager, body="one")
    assert queries_for(client, url) <= DETAIL_QUERIES  # the content type may come from Django's cache
    baseline = queries_for(client, url)  # now it does, whichever tests ran before
    # acknowledged by someone else (acknowledging would assign it to the manager: no "Assign to me" to ask about)
    services.incident_transition(instance=incident, name="acknowledge", by=None, comment="c")
    for i in range(6):
        services.incident_add_note(incident=incident, by=UserFactory(roles=[Role.SERVICE_DESK]), body=f"note {i}")
    services.incident_escalate(incident=incident, by=manager)
    with django_assert_num_queries(baseline):
        client.get(url)


# --- transitions through the page ------------------------------------------------------


def test_acknowledge_through_the_page(client, desk, frozen):
    incident = IncidentFactory()
    response = post_transition(logged_in(client, desk), incident, "acknowledge", comment="  On it  ")
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
    incident.refresh_from_db()
    assert incident.state == Incident.State.RESPONDING
    assert incident.acknowledged_at == NOW
    log = TransitionLog.objects.get(object_id=incident.pk, transition="acknowledge")
    assert (log.user, log.comment, log.from_state, log.to_state) == (desk, "On it", "detected", "responding")
    assert messages_of(response) == [f"{incident.number} is now responding."]


def test_resolve_without_a_summary_shows_the_error_and_changes_nothing(client, desk, frozen):
    incident = IncidentFactory()
    response = post_transition(logged_in(client, desk), incident, "resolve", resolution_summary="   ")
    assert response.status_code == 400
    content = response.content.decode()
    assert "Say how the incident was resolved." in content
    assert 'class="collapse show" id="tf-resolve"' in content  # the form stays open
    incident.refresh_from_db()
    assert incident.state == Incident.State.DETECTED
    assert incident.resolved_at is None


def test_resolve_with_a_summary(client, desk, frozen):
    incident = IncidentFactory()
    response = post_transition(logged_in(client, desk), incident, "resolve", resolution_summary="Restarted the pool")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == Incident.State.RESOLVED
    assert incident.resolution_summary == "Restarted the pool"
    assert incident.resolved_at == NOW
    assert incident.acknowledged_at == NOW  # resolved straight from detected
    assert incident.follow_up_due == NOW + timedelta(hours=24)


def test_close_with_its_fields(client, manager, frozen):
    incident = IncidentFactory()
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="Fixed")
    incident.refresh_from_db()
    client = logged_in(client, manager)
    response = post_transition(client, incident, "close", root_cause="", lessons_learned="")
    assert response.status_code == 400
    content = response.content.decode()
    assert "Give the root cause before closing." in content
    assert "Give the lessons learned before closing." in content
    response = post_transition(
        client, incident, "close", root_cause="Pool exhaustion", lessons_learned="Alert earlier",
        preventive_measures="Bigger pool",
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == Incident.State.CLOSED
    assert (incident.root_cause, incident.lessons_learned, incident.preventive_measures) == (
        "Pool exhaustion", "Alert earlier", "Bigger pool")
    assert incident.closed_at == NOW


def test_cancel_needs_a_reason(client, manager, frozen):
    incident = IncidentFactory()
    client = logged_in(client, manager)
    response = post_transition(client, incident, "cancel", reason="")
    assert response.status_code == 400
    assert "Choose a reason" in response.content.decode()
    response = post_transition(client, incident, "cancel", reason="duplicate")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.state, incident.cancel_reason) == (Incident.State.CANCELLED, "duplicate")


def test_stale_page_says_someone_else_changed_it(client, desk, manager, frozen):
    incident = IncidentFactory()
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    # the desk still sees "detected" and presses Resolve
    response = post_transition(
        logged_in(client, desk), incident, "resolve", expected_state="detected", resolution_summary="Fixed"
    )
    assert response.status_code == 302
    [message] = messages_of(response)
    assert "was changed by someone else" in message
    incident.refresh_from_db()
    assert incident.state == Incident.State.RESPONDING
    assert incident.resolution_summary == ""


def test_transition_not_allowed_from_the_state_is_a_message(client, manager, frozen):
    incident = IncidentFactory()
    response = post_transition(logged_in(client, manager), incident, "resume")
    assert response.status_code == 302
    assert messages_of(response) == [f"Cannot resume {incident.number}: it is detected."]
    incident.refresh_from_db()
    assert incident.state == Incident.State.DETECTED


def test_tampered_expected_state_is_a_message(client, manager):
    incident = IncidentFactory()
    response = post_transition(logged_in(client, manager), incident, "acknowledge", expected_state="exploded")
    assert response.status_code == 302
    assert messages_of(response) == ["The form was incomplete. Reload the page and try again."]


def test_service_desk_may_not_close_through_the_page(client, desk, manager):
    incident = IncidentFactory()
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="Fixed")
    response = post_transition(logged_in(client, desk), incident, "close", expected_state="resolved",
                               root_cause="a", lessons_learned="b")
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.state == Incident.State.RESOLVED


# --- notes, edits, severity, escalation ------------------------------------------------


def test_add_a_work_note(client, desk, frozen):
    incident = IncidentFactory()
    response = logged_in(client, desk).post(reverse("incidents:note", args=[incident.pk]), {"body": " Checked logs "})
    assert response.status_code == 302
    assert response["Location"].endswith("#timeline")
    note = IncidentNote.objects.get()
    assert (note.incident, note.author, note.body, note.created_at) == (incident, desk, "Checked logs", NOW)


def test_empty_note_is_refused(client, desk):
    incident = IncidentFactory()
    response = logged_in(client, desk).post(reverse("incidents:note", args=[incident.pk]), {"body": ""})
    assert response.status_code == 400
    assert "Write the note before adding it." in response.content.decode()
    assert not IncidentNote.objects.exists()


def test_api_reader_may_not_add_notes(client, api_reader):
    incident = IncidentFactory()
    response = logged_in(client, api_reader).post(reverse("incidents:note", args=[incident.pk]), {"body": "hi"})
    assert response.status_code == 403


def test_edit_the_non_state_fields(client, desk, frozen):
    team = TeamFactory()
    incident = IncidentFactory(title="Old", customers_affected=1, team=team)
    assignee = UserFactory()
    team.members.add(assignee)  # the assignee choices are the team's members
    client = logged_in(client, desk)
    assert client.get(reverse("incidents:edit", args=[incident.pk])).status_code == 200
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]),
        {"title": "New title", "description": "More detail", "team": team.pk, "assignee": assignee.pk,
         "customers_affected": "12", "confidential": "on"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.description, incident.team, incident.assignee, incident.customers_affected,
            incident.confidential) == ("New title", "More detail", team, assignee, 12, True)
    assert incident.state == Incident.State.DETECTED


def test_edit_errors_and_nothing_changed(client, desk):
    incident = IncidentFactory(title="Same", customers_affected=0)
    client = logged_in(client, desk)
    response = client.post(reverse("incidents:edit", args=[incident.pk]), {"title": "", "customers_affected": "-1"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Give the incident a short title." in content and "Customers affected cannot be negative." in content
    response = client.post(
        reverse("incidents:edit", args=[incident.pk]),
        {"title": "Same", "description": "", "team": incident.team.pk, "customers_affected": "0"},
    )
    assert messages_of(response) == ["Nothing changed."]


def test_edit_is_403_without_change_permission(client, api_reader):
    incident = IncidentFactory()
    assert logged_in(client, api_reader).get(reverse("incidents:edit", args=[incident.pk])).status_code == 403


def test_closed_incident_cannot_be_edited(client, manager):
    incident = IncidentFactory()
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="x")
    services.incident_transition(instance=incident, name="close", by=manager, root_cause="a", lessons_learned="b")
    client = logged_in(client, manager)
    assert "Edit details" not in client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    response = client.post(reverse("incidents:edit", args=[incident.pk]), {"title": "New", "customers_affected": "0"})
    assert response.status_code == 302
    assert "cannot be changed" in messages_of(response)[0]
    incident.refresh_from_db()
    assert incident.title != "New"


def test_change_severity_recomputes_deadlines(client, manager, frozen):
    incident = IncidentFactory(severity="low", detected_at=NOW - timedelta(minutes=10))
    response = logged_in(client, manager).post(
        reverse("incidents:severity", args=[incident.pk]), {"severity": "critical", "comment": "Spreading"}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.severity == "critical"
    assert incident.response_due == NOW - timedelta(minutes=10) + timedelta(minutes=15)
    assert incident.resolution_due == NOW - timedelta(minutes=10) + timedelta(hours=2)
    assert "now critical" in messages_of(response)[0]


def test_change_severity_errors(client, manager, desk):
    incident = IncidentFactory(severity="low")
    response = logged_in(client, manager).post(reverse("incidents:severity", args=[incident.pk]), {"severity": "x"})
    assert response.status_code == 400
    assert "Choose a severity: critical, high, medium or low." in response.content.decode()
    response = client.post(reverse("incidents:severity", args=[incident.pk]), {"severity": "low"})
    assert messages_of(response) == [f"{incident.number} is already low."]
    client.force_login(desk)
    assert client.post(reverse("incidents:severity", args=[incident.pk]), {"severity": "high"}).status_code == 403
    incident.refresh_from_db()
    assert incident.severity == "low"


def test_escalate_by_hand(client, manager, desk, frozen):
    incident = IncidentFactory()
    client = logged_in(client, manager)
    response = client.post(reverse("incidents:escalate", args=[incident.pk]), {"comment": "Board asks"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.escalation_level == 1
    assert messages_of(response) == [f"{incident.number} escalated to level 1."]
    client.force_login(desk)
    assert client.post(reverse("incidents:escalate", args=[incident.pk])).status_code == 403
    incident.refresh_from_db()
    assert incident.escalation_level == 1


def test_escalating_a_resolved_incident_is_a_message(client, manager):
    incident = IncidentFactory()
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="x")
    response = logged_in(client, manager).post(reverse("incidents:escalate", args=[incident.pk]))
    assert response.status_code == 302
    assert messages_of(response) == [f"Cannot escalate {incident.number}: it is resolved."]


# --- presentation helpers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0 s"),
        (42, "42 s"),
        (-42, "42 s"),
        (12 * 60 + 5, "12 min"),
        (3600, "1 h"),
        (3600 + 5 * 60, "1 h 05 min"),
        (24 * 3600, "24 h"),
        (30 * 3600 + 60, "30 h 01 min"),
        (2 * 86400, "2 d"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
        (timedelta(minutes=15), "15 min"),
    ],
)
def test_duration_filter(seconds, text):
    from incidents.templatetags.incident_tags import duration

    assert duration(seconds) == text


def test_sla_summary_picks_the_clock_that_matters(manager, frozen):
    from incidents.selectors import sla_state
    from incidents.templatetags.incident_tags import sla_summary

    incident = IncidentFactory(severity="critical", detected_at=NOW - timedelta(minutes=20))
    summary = sla_summary(incident, sla_state(incident))
    assert (summary["name"], summary["text"], summary["css"]) == ("response", "breached by 5 min", "sla-breached")
    services.incident_transition(instance=incident, name="acknowledge", by=manager)
    incident.refresh_from_db()
    summary = sla_summary(incident, sla_state(incident))
    assert (summary["name"], summary["text"], summary["css"], summary["other_breached"]) == (
        "resolution", "1 h 40 min left", "sla-ok", "response")
    services.incident_transition(instance=incident, name="resolve", by=manager, resolution_summary="x")
    incident.refresh_from_db()
    summary = sla_summary(incident, sla_state(incident))
    assert (summary["text"], summary["css"]) == ("met", "sla-ok")
    services.incident_transition(instance=IncidentFactory(), name="cancel", by=manager, reason="duplicate")
    cancelled = Incident.objects.get(state="cancelled")
    assert sla_summary(cancelled, sla_state(cancelled))["text"] == "—"
