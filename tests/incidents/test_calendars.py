"""Business-hours SLA calendars on incidents: deadlines, holds, severity changes, re-timing,
the sweep at the edges of working time, the SLA state, the API, the admin and the metric."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from incidents import calendars, services
from incidents.models import BusinessCalendar, Incident, SLAPolicy
from incidents.selectors import sla_state
from metrics.definitions import compute
from opsdesk.choices import Role
from opsdesk.models import Notification, TransitionLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
NINE_TO_FIVE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def office(db):
    """Europe/Berlin, Monday to Friday 09:00-17:00, attached to the medium policy."""
    calendar = calendars.calendar_create(by=None, name="Office", time_zone="Europe/Berlin", hours=NINE_TO_FIVE)
    calendars.sla_policy_update(policy=SLAPolicy.objects.get(severity="medium"), by=None, calendar=calendar)
    return calendar


def make(service, severity="medium", **kwargs):
    return services.incident_create(by=None, title="Slow", service=service, severity=severity, **kwargs)


def step(incident, name, at, clock, **fields):
    clock.move_to(at)
    return services.incident_transition(instance=incident, name=name, by=None, **fields)


def reload(incident):
    return Incident.objects.get(pk=incident.pk)


# --- deadlines -----------------------------------------------------------------------


def test_saturday_incident_counts_from_monday_morning(clock, service, office):
    clock.move_to(berlin(2026, 3, 7, 10, 0))  # Saturday
    incident = make(service)
    assert incident.response_due == berlin(2026, 3, 9, 11, 0)  # 2 h from Monday 09:00
    assert incident.response_warning_due == berlin(2026, 3, 9, 10, 30)  # 75 %
    assert incident.resolution_due == berlin(2026, 3, 9, 17, 0)  # 8 h: exactly closing time
    assert incident.resolution_warning_due == berlin(2026, 3, 9, 15, 0)
    state = sla_state(incident, now=berlin(2026, 3, 7, 15, 0))
    assert (state.paused, state.paused_reason, state.status) == (True, "outside_business_hours", "paused")
    assert state.response.remaining_seconds == 7200
    assert state.response.elapsed_seconds == 0
    monday = sla_state(incident, now=berlin(2026, 3, 9, 9, 45))
    assert (monday.paused, monday.paused_reason, monday.status) == (False, None, "ok")
    assert monday.response.remaining_seconds == 75 * 60


def test_other_severities_stay_round_the_clock(clock, service, office):
    clock.move_to(berlin(2026, 3, 7, 10, 0))
    incident = make(service, severity="high")
    assert incident.response_due == berlin(2026, 3, 7, 10, 30)
    state = sla_state(incident, now=berlin(2026, 3, 7, 10, 5))
    assert (state.paused, state.paused_reason, state.calendar) == (False, None, None)


def test_hold_and_resume_shift_the_deadline_by_the_working_time_on_hold(clock, service, office):
    clock.move_to(berlin(2026, 3, 2, 10, 0))  # Monday
    incident = make(service)
    step(incident, "acknowledge", berlin(2026, 3, 2, 10, 10), clock)
    held = step(incident, "hold", berlin(2026, 3, 2, 16, 0), clock)
    overnight = sla_state(held, now=berlin(2026, 3, 3, 8, 0))
    assert overnight.time_on_hold_seconds == 3600  # 16:00-17:00 only
    assert overnight.paused_reason == "on_hold"
    resumed = step(incident, "resume", berlin(2026, 3, 3, 9, 30), clock)
    assert resumed.time_on_hold == timedelta(hours=1, minutes=30)
    # 8 h + 1 h 30 on hold from Monday 10:00: 7 h on Monday, 2 h 30 on Tuesday.
    assert resumed.resolution_due == berlin(2026, 3, 3, 11, 30)
    assert resumed.resolution_warning_due == berlin(2026, 3, 3, 9, 30)  # 6 h + 1 h 30


def test_resolving_stores_the_working_time_to_resolve_for_the_metric(clock, service, office):
    clock.move_to(berlin(2026, 3, 6, 16, 0))  # Friday
    incident = make(service)
    resolved = step(incident, "resolve", berlin(2026, 3, 9, 10, 0), clock, resolution_summary="Fixed")
    assert resolved.working_time_to_resolve == 2 * H
    other = make(service, severity="high")  # 24 x 7: 30 min
    step(other, "resolve", berlin(2026, 3, 9, 10, 30), clock, resolution_summary="Fixed")
    figures = compute(date(2026, 3, 1), date(2026, 4, 1))["incidents"]
    assert figures["mttr_business_seconds"] == (7200 + 1800) / 2
    assert figures["mttr_seconds"] > figures["mttr_business_seconds"]
    reopened = step(incident, "reopen", berlin(2026, 3, 9, 11, 0), clock)
    assert reopened.working_time_to_resolve is None


def test_business_mttr_is_null_without_resolved_incidents(service, office):
    assert compute(date(2026, 3, 1), date(2026, 4, 1))["incidents"]["mttr_business_seconds"] is None


# --- severity change during a hold ------------------------------------------------------------


def test_severity_change_during_a_hold_recounts_the_hold_in_the_new_calendar(clock, manager, service, office):
    clock.move_to(berlin(2026, 3, 2, 10, 0))  # Monday; high counts 24 x 7
    incident = make(service, severity="high")
    step(incident, "acknowledge", berlin(2026, 3, 2, 10, 5), clock)
    step(incident, "hold", berlin(2026, 3, 2, 10, 30), clock)
    resumed = step(incident, "resume", berlin(2026, 3, 3, 10, 0), clock)
    assert resumed.time_on_hold == timedelta(hours=23, minutes=30)
    step(incident, "hold", berlin(2026, 3, 3, 10, 30), clock)
    clock.move_to(berlin(2026, 3, 3, 11, 0))
    changed = services.incident_change_severity(incident=incident, by=manager, severity="medium")
    # The finished hold, in office hours: Monday 10:30-17:00 and Tuesday 09:00-10:00.
    assert changed.time_on_hold == timedelta(hours=7, minutes=30)
    assert changed.resolution_due == berlin(2026, 3, 4, 9, 30)  # 8 h + 7 h 30 from Monday 10:00
    assert changed.response_due == berlin(2026, 3, 2, 12, 0)
    state = sla_state(changed, now=berlin(2026, 3, 3, 11, 0))
    assert (state.paused_reason, state.time_on_hold_seconds) == ("on_hold", 8 * 3600)
    resumed = step(changed, "resume", berlin(2026, 3, 3, 14, 0), clock)
    assert resumed.time_on_hold == timedelta(hours=11)
    assert resumed.resolution_due == berlin(2026, 3, 4, 13, 0)
    # And back to 24 x 7: the holds are wall-clock time again.
    back = services.incident_change_severity(incident=resumed, by=manager, severity="high")
    assert back.time_on_hold == timedelta(hours=23, minutes=30) + 3 * H + 30 * timedelta(minutes=1)
    assert back.resolution_due == berlin(2026, 3, 2, 10, 0) + 4 * H + back.time_on_hold


# --- attaching a calendar while incidents are open --------------------------------------------


def test_attaching_a_calendar_re_times_open_incidents_and_detaching_restores(clock, service):
    clock.move_to(berlin(2026, 3, 2, 10, 0))
    medium = SLAPolicy.objects.get(severity="medium")
    incident = make(service)
    step(incident, "acknowledge", berlin(2026, 3, 2, 10, 10), clock)
    step(incident, "hold", berlin(2026, 3, 2, 16, 0), clock)
    resumed = step(incident, "resume", berlin(2026, 3, 3, 9, 30), clock)
    assert resumed.resolution_due == berlin(2026, 3, 2, 10, 0) + 8 * H + timedelta(hours=17, minutes=30)
    done = make(service)
    done = step(done, "resolve", berlin(2026, 3, 3, 9, 40), clock, resolution_summary="Fixed")
    before_done = (done.response_due, done.resolution_due)

    clock.move_to(berlin(2026, 3, 3, 10, 0))
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Europe/Berlin", hours=NINE_TO_FIVE)
    calendars.sla_policy_update(policy=medium, by=None, calendar=calendar)
    retimed = reload(incident)
    assert retimed.time_on_hold == timedelta(hours=1, minutes=30)  # Mon 16-17 and Tue 09-09:30
    assert retimed.resolution_due == berlin(2026, 3, 3, 11, 30)
    assert retimed.response_due == berlin(2026, 3, 2, 12, 0)
    assert (reload(done).response_due, reload(done).resolution_due) == before_done  # resolved: untouched
    entry = TransitionLog.objects.filter(object_id=incident.pk, transition="retime_sla").get()
    assert "Office" in entry.comment

    calendars.sla_policy_update(policy=medium, by=None, calendar=None)
    again = reload(incident)
    assert again.time_on_hold == timedelta(hours=17, minutes=30)
    assert again.resolution_due == resumed.resolution_due


def test_changing_the_hours_of_a_calendar_re_times_its_policies_incidents(clock, service, office):
    clock.move_to(berlin(2026, 3, 2, 10, 0))
    incident = make(service)
    assert incident.resolution_due == berlin(2026, 3, 3, 10, 0)  # 7 h on Monday, 1 h on Tuesday
    calendars.calendar_update(calendar=office, by=None, hours={"mon": [["09:00", "19:00"]]})
    assert reload(incident).resolution_due == berlin(2026, 3, 2, 18, 0)


def test_warnings_already_sent_go_out_again_for_a_moved_deadline(clock, service, office):
    clock.move_to(berlin(2026, 3, 2, 8, 0))  # before opening: due 11:00, warning at 10:30
    incident = make(service)
    clock.move_to(berlin(2026, 3, 2, 10, 30))
    assert services.sla_sweep()["response_warned"] == 1
    calendars.sla_policy_update(policy=SLAPolicy.objects.get(severity="medium"), by=None, calendar=None)
    moved = reload(incident)
    assert (moved.response_due, moved.response_warned_at) == (berlin(2026, 3, 2, 10, 0), None)
    assert services.sla_sweep()["response_breached"] == 1


# --- the sweep at the edges of working time ----------------------------------------------------


def test_deadline_at_closing_time_breaches_at_closing_time(clock, service, office, managers):
    clock.move_to(berlin(2026, 3, 6, 9, 0))  # Friday
    incident = make(service)
    step(incident, "acknowledge", berlin(2026, 3, 6, 9, 30), clock)
    assert incident.resolution_due == berlin(2026, 3, 6, 17, 0)
    assert services.sla_sweep(now=berlin(2026, 3, 6, 16, 59, 59))["resolution_breached"] == 0
    assert services.sla_sweep(now=berlin(2026, 3, 6, 17, 0))["resolution_breached"] == 1
    breached = reload(incident)
    assert breached.resolution_breached_at == berlin(2026, 3, 6, 17, 0)
    assert breached.escalation_level == 1


def test_sweeps_at_night_and_at_weekends_send_nothing_for_deadlines_in_working_time(clock, service, office):
    clock.move_to(berlin(2026, 3, 6, 16, 0))  # Friday, one hour before closing
    incident = make(service)
    assert incident.response_warning_due == berlin(2026, 3, 9, 9, 30)  # 1 h Friday + 30 min Monday
    for night in [berlin(2026, 3, 6, 23, 0), berlin(2026, 3, 7, 0, 0), berlin(2026, 3, 8, 12, 0),
                  berlin(2026, 3, 9, 0, 0), berlin(2026, 3, 9, 9, 29)]:
        assert services.sla_sweep(now=night) == {
            "response_breached": 0, "resolution_breached": 0, "response_warned": 0, "resolution_warned": 0,
            "follow_up_breached": 0, "action_items_reminded": 0, "status_updates_reminded": 0,
        }
    assert not Notification.objects.filter(subject__contains="SLA").exists()
    assert services.sla_sweep(now=berlin(2026, 3, 9, 9, 30))["response_warned"] == 1
    assert services.sla_sweep(now=berlin(2026, 3, 9, 10, 0))["response_breached"] == 1
    assert reload(incident).response_breached_at == berlin(2026, 3, 9, 10, 0)


def test_a_breach_found_late_by_a_night_sweep_is_dated_in_working_time_and_escalated_once(
    clock, service, office, managers
):
    clock.move_to(berlin(2026, 3, 6, 15, 0))  # Friday
    incident = make(service)  # response due Friday 17:00
    # The sweep was down from Friday afternoon; it runs again on Saturday at 02:00.
    assert services.sla_sweep(now=berlin(2026, 3, 7, 2, 0))["response_breached"] == 1
    assert services.sla_sweep(now=berlin(2026, 3, 7, 2, 1))["response_breached"] == 0
    breached = reload(incident)
    assert breached.response_breached_at == berlin(2026, 3, 6, 17, 0)
    assert breached.escalation_level == 1
    assert office.working_hours().is_working(breached.response_breached_at, closing_inclusive=True)


def test_no_warning_while_on_hold_outside_hours_or_not(clock, service, office):
    clock.move_to(berlin(2026, 3, 2, 9, 0))
    incident = make(service)
    step(incident, "acknowledge", berlin(2026, 3, 2, 9, 5), clock)
    step(incident, "hold", berlin(2026, 3, 2, 9, 10), clock)
    assert services.sla_sweep(now=berlin(2026, 3, 2, 16, 0))["resolution_warned"] == 0


# --- what the queue and the page say ---------------------------------------------------------


def test_queue_and_page_say_paused_outside_business_hours(client, desk, clock, service, office):
    clock.move_to(berlin(2026, 3, 7, 10, 0))  # Saturday
    incident = make(service)
    client.force_login(desk)
    queue = client.get(reverse("incidents:list") + "?view=open").content.decode()
    assert ">2 h left</div>" in queue
    assert "response<span class=\"sla-paused-reason\">paused: outside business hours</span>" in queue
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "paused: outside business hours" in page
    assert "Office" in page and "working time" in page
    clock.move_to(berlin(2026, 3, 9, 9, 30))  # Monday, open
    queue = client.get(reverse("incidents:list") + "?view=open").content.decode()
    assert "1 h 30 min left" in queue and "outside business hours" not in queue


# --- API ----------------------------------------------------------------------------------------


@pytest.fixture
def im(user_in_role):
    return user_in_role(Role.INCIDENT_MANAGERS)


def test_api_creates_a_calendar_as_the_spec_shows(api_client, im):
    body = {
        "name": "Office", "time_zone": "Europe/Berlin",
        "hours": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "24:00"]]},
        "holidays": ["2026-12-25", ["2026-12-28", "2026-12-31"]],
    }
    response = api_client(im).post("/api/v1/calendars/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert {k: data[k] for k in body} == body
    assert data["policies"] == []
    listed = api_client(im).get("/api/v1/calendars/").json()
    assert [c["name"] for c in listed["results"]] == ["Office"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Europe/Atlantis"}, "time_zone"),
        ({"hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "hours"),
        ({"hours": {"mon": [["18:00", "09:00"]]}}, "hours"),
        ({"hours": {"mon": "all day"}}, "hours"),
        ({"hours": []}, "hours"),
        ({"holidays": ["2026-13-01"]}, "holidays"),
        ({"holidays": [["2026-12-31", "2026-12-01"]]}, "holidays"),
        ({"holidays": [1, 2]}, "holidays"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_api_refuses_bad_calendars_with_400_naming_the_field(api_client, im, change, field):
    body = {"name": "Office", "time_zone": "Europe/Berlin", "hours": NINE_TO_FIVE, **change}
    response = api_client(im).post("/api/v1/calendars/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not BusinessCalendar.objects.exists()


def test_api_calendar_names_are_unique_whatever_the_case(api_client, im, office):
    body = {"name": "office", "time_zone": "UTC", "hours": NINE_TO_FIVE}
    response = api_client(im).post("/api/v1/calendars/", body, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_only_incident_managers_and_superusers_write_calendars(api_client, user_in_role, api_reader, desk):
    body = {"name": "Office", "time_zone": "UTC", "hours": NINE_TO_FIVE}
    assert api_client(desk).post("/api/v1/calendars/", body, format="json").status_code == 403
    assert api_client(api_reader).post("/api/v1/calendars/", body, format="json").status_code == 403
    assert api_client(api_reader).get("/api/v1/calendars/").status_code == 200
    assert api_client(None).get("/api/v1/calendars/").status_code in (401, 403)
    root = UserFactory(is_superuser=True, is_staff=True)
    assert api_client(root).post("/api/v1/calendars/", body, format="json").status_code == 201


def test_api_patch_and_delete_a_calendar(api_client, im, office, clock, service):
    clock.move_to(berlin(2026, 3, 2, 10, 0))
    incident = make(service)
    response = api_client(im).patch(
        f"/api/v1/calendars/{office.pk}/", {"hours": {"mon": [["09:00", "19:00"]]}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["policies"] == ["medium"]
    assert reload(incident).resolution_due == berlin(2026, 3, 2, 18, 0)
    assert api_client(im).delete(f"/api/v1/calendars/{office.pk}/").status_code == 409
    calendars.sla_policy_update(policy=SLAPolicy.objects.get(severity="medium"), by=None, calendar=None)
    assert api_client(im).delete(f"/api/v1/calendars/{office.pk}/").status_code == 204


def test_api_patch_sla_policy_attaches_and_detaches_a_calendar(api_client, im, desk, clock, service):
    clock.move_to(berlin(2026, 3, 7, 10, 0))  # Saturday
    calendar = calendars.calendar_create(by=None, name="Office", time_zone="Europe/Berlin", hours=NINE_TO_FIVE)
    incident = make(service)
    assert api_client(desk).patch("/api/v1/sla-policies/medium/", {"calendar": calendar.pk},
                                  format="json").status_code == 403
    response = api_client(im).patch("/api/v1/sla-policies/medium/", {"calendar": calendar.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["calendar"] == calendar.pk
    sla_data = api_client(im).get(f"/api/v1/incidents/{incident.pk}/").json()["sla"]
    assert (sla_data["paused"], sla_data["paused_reason"], sla_data["calendar"]) == (
        True, "outside_business_hours", calendar.pk
    )
    assert sla_data["response"]["remaining_seconds"] == 7200
    assert datetime.fromisoformat(sla_data["response"]["due"]) == berlin(2026, 3, 9, 11, 0)
    assert api_client(im).patch("/api/v1/sla-policies/medium/", {"calendar": 999}, format="json").status_code == 400
    assert api_client(im).patch("/api/v1/sla-policies/unknown/", {"calendar": None},
                                format="json").status_code == 404
    response = api_client(im).patch("/api/v1/sla-policies/medium/", {"calendar": None}, format="json")
    assert response.status_code == 200
    assert reload(incident).response_due == berlin(2026, 3, 7, 12, 0)
    listed = api_client(im).get("/api/v1/sla-policies/").json()
    assert [p["severity"] for p in listed] == ["critical", "high", "medium", "low"]


def test_api_incident_list_reads_the_calendars_once(api_client, im, clock, service, office,
                                                    django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clock.move_to(berlin(2026, 3, 7, 10, 0))
    make(service)
    client = api_client(im)
    client.get("/api/v1/incidents/")  # permissions are cached on the user after the first request
    with CaptureQueriesContext(connection) as one:
        client.get("/api/v1/incidents/")
    for _ in range(4):
        make(service)
    with django_assert_num_queries(len(one.captured_queries)):
        client.get("/api/v1/incidents/")


# --- admin --------------------------------------------------------------------------------------


def test_admin_creates_a_calendar_from_one_line_per_day(client, im):
    im.is_staff = True
    im.save()
    client.force_login(im)
    form = {
        "name": "Office", "time_zone": "Europe/Berlin",
        "hours_mon": "09:00-12:00, 13:00-18:00", "hours_tue": "", "hours_wed": "", "hours_thu": "",
        "hours_fri": "08:00-24:00", "hours_sat": "", "hours_sun": "",
        "holidays_text": "2026-12-25\n2026-12-28..2026-12-31",
    }
    response = client.post(reverse("admin:incidents_businesscalendar_add"), form)
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get()
    assert calendar.hours == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "fri": [["08:00", "24:00"]]}
    assert calendar.holidays == ["2026-12-25", ["2026-12-28", "2026-12-31"]]
    bad = client.post(reverse("admin:incidents_businesscalendar_add"),
                      {**form, "name": "Other", "hours_mon": "13:00-09:00", "holidays_text": "2026-02-30"})
    assert bad.status_code == 200
    assert "starts at or after its end" in bad.content.decode()
    assert "YYYY-MM-DD" in bad.content.decode()
    assert BusinessCalendar.objects.count() == 1


def test_admin_policy_edit_goes_through_the_service_and_re_times(client, clock, service, office):
    root = UserFactory(is_superuser=True, is_staff=True)
    clock.move_to(berlin(2026, 3, 7, 10, 0))
    incident = make(service)
    client.force_login(root)
    policy = SLAPolicy.objects.get(severity="medium")
    response = client.post(reverse("admin:incidents_slapolicy_change", args=[policy.pk]), {
        "response_time": "02:00:00", "resolution_time": "08:00:00", "notification_level": "standard",
        "warning_threshold": "0.75", "calendar": "", "detection_time": "00:15:00", "follow_up_time": "1 00:00:00",
    })
    assert response.status_code == 302
    assert reload(incident).response_due == berlin(2026, 3, 7, 12, 0)
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="retime_sla").exists()
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "SLA re-timed" in page and "calendar 24 × 7" in page


def test_the_worked_example_of_the_docs(clock, service):
    """docs/incidents.md, "Worked example": every figure."""
    calendar = calendars.calendar_create(
        by=None, name="Office hours", time_zone="Europe/Berlin",
        hours={d: [["09:00", "12:30"], ["13:30", "17:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays=[["2026-12-24", "2026-12-26"]],
    )
    medium = SLAPolicy.objects.get(severity="medium")
    calendars.sla_policy_update(policy=medium, by=None, calendar=calendar)
    clock.move_to(berlin(2026, 3, 27, 16, 0))
    incident = make(service)
    assert (incident.response_warning_due, incident.response_due) == (berlin(2026, 3, 27, 17, 30),
                                                                      berlin(2026, 3, 30, 9, 30))
    assert (incident.resolution_warning_due, incident.resolution_due) == (berlin(2026, 3, 30, 14, 30),
                                                                          berlin(2026, 3, 30, 16, 30))
    state = sla_state(incident, now=berlin(2026, 3, 28, 12, 0))
    assert (state.paused, state.paused_reason, state.response.remaining_seconds) == (
        True, "outside_business_hours", 1800
    )
    assert services.sla_sweep(now=berlin(2026, 3, 27, 17, 30))["response_warned"] == 1  # at closing time
    for weekend in (berlin(2026, 3, 27, 23, 0), berlin(2026, 3, 28, 12, 0), berlin(2026, 3, 29, 12, 0)):
        assert sum(services.sla_sweep(now=weekend).values()) == 0
    step(incident, "acknowledge", berlin(2026, 3, 30, 9, 10), clock)
    step(incident, "hold", berlin(2026, 3, 30, 11, 0), clock)
    resumed = step(incident, "resume", berlin(2026, 3, 31, 10, 0), clock)
    assert resumed.time_on_hold == timedelta(hours=6, minutes=30)
    assert resumed.resolution_due == berlin(2026, 3, 31, 15, 30)
    calendars.sla_policy_update(policy=medium, by=None, calendar=None)
    detached = reload(incident)
    assert detached.time_on_hold == timedelta(hours=23)
    assert detached.resolution_due == berlin(2026, 3, 28, 23, 0)
    assert services.sla_sweep()["resolution_breached"] == 1
    assert reload(incident).resolution_breached_at == berlin(2026, 3, 28, 23, 0)
