"""Conflicts of the four kinds (§3.1), stored and recomputed, and maintenance windows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from changes import conflicts, services
from changes.models import ChangeFreeze, MaintenanceWindow
from tests.factories import ServiceFactory, TeamFactory

ZURICH = ZoneInfo("Europe/Zurich")


def kinds(change):
    change.refresh_from_db()
    return sorted(item["kind"] for item in change.conflicts)


def window(service, days, start, end, zone="Europe/Zurich"):
    return MaintenanceWindow.objects.create(service=service, weekdays=days, start_time=start, end_time=end,
                                            time_zone=zone)


# --- maintenance windows (pure) -------------------------------------------------------------


def test_inside_a_weekly_window_in_its_own_time_zone(service):
    sunday = [window(service, [6], time(2), time(6))]
    start = datetime(2026, 12, 6, 2, 30, tzinfo=ZURICH)  # a Sunday
    assert conflicts.fits_maintenance_windows(start, start + timedelta(hours=2), sunday)
    assert not conflicts.fits_maintenance_windows(start, start + timedelta(hours=4), sunday)  # runs past 06:00
    assert not conflicts.fits_maintenance_windows(start - timedelta(days=1), start - timedelta(days=1, hours=-1),
                                                 sunday)  # Saturday


def test_overnight_and_back_to_back_windows(service):
    nights = [window(service, [4, 5], time(22), time(22))]  # Fri and Sat, whole day each: back to back
    friday = datetime(2026, 12, 4, 23, 0, tzinfo=ZURICH)
    assert conflicts.fits_maintenance_windows(friday, friday + timedelta(hours=30), nights)
    overnight = [window(service, [5], time(22), time(4))]  # Sat 22:00 – Sun 04:00
    saturday = datetime(2026, 12, 5, 23, 0, tzinfo=ZURICH)
    assert conflicts.fits_maintenance_windows(saturday, saturday + timedelta(hours=4), overnight)
    assert not conflicts.fits_maintenance_windows(saturday, saturday + timedelta(hours=6), overnight)


def test_window_follows_daylight_saving_time(service):
    early = [window(service, [6], time(2), time(6))]
    # 29 March 2026: clocks go 02:00 → 03:00 in Zurich; 03:30 local is 01:30 UTC.
    start = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert conflicts.fits_maintenance_windows(start, start + timedelta(hours=2), early)
    # In winter 02:30 local is 01:30 UTC; in summer 01:30 UTC is 03:30 local: both inside.
    july = datetime(2026, 7, 5, 0, 30, tzinfo=UTC)  # 02:30 local
    assert conflicts.fits_maintenance_windows(july, july + timedelta(hours=3), early)
    assert not conflicts.fits_maintenance_windows(july, july + timedelta(hours=4), early)


# --- the four kinds, stored and recomputed --------------------------------------------------


def test_overlap_and_implementer_busy(approved_change, make_change, service, window_times):
    start, end = window_times
    team = TeamFactory()
    other = approved_change(planned_start=start, planned_end=end, implementer=team)
    elsewhere = make_change(planned_start=start, planned_end=end, implementer=team, services=[ServiceFactory()])
    shared = make_change(planned_start=start, planned_end=end, implementer=team)
    assert kinds(elsewhere) == ["implementer_busy"]
    assert kinds(shared) == ["implementer_busy", "overlap"]
    busy = next(item for item in elsewhere.conflicts if item["kind"] == "implementer_busy")
    assert busy["change"] == other.pk and team.name in busy["detail"]


def test_freeze_conflict_follows_freeze_edits_in_the_admin(client, superuser, make_change, service, window_times):
    start, end = window_times
    change = make_change(planned_start=start, planned_end=end)
    assert kinds(change) == []
    client.force_login(superuser)
    response = client.post(reverse("admin:changes_changefreeze_add"), {
        "name": "Peak", "start_0": (start - timedelta(hours=1)).strftime("%Y-%m-%d"),
        "start_1": (start - timedelta(hours=1)).strftime("%H:%M:%S"),
        "end_0": end.strftime("%Y-%m-%d"), "end_1": end.strftime("%H:%M:%S"), "services": [service.pk],
        "reason": "",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert kinds(change) == ["freeze"]
    freeze = ChangeFreeze.objects.get()
    assert client.post(reverse("admin:changes_changefreeze_delete", args=[freeze.pk]),
                       {"post": "yes"}).status_code == 302
    assert kinds(change) == []


def test_maintenance_window_conflict_follows_admin_edits(client, superuser, make_change, service):
    start = datetime(2026, 12, 7, 9, 0, tzinfo=ZURICH)  # a Monday morning
    change = make_change(planned_start=start, planned_end=start + timedelta(hours=1))
    client.force_login(superuser)
    data = {"service": service.pk, "name": "Sunday", "weekdays": ["6"], "start_time": "02:00",
            "end_time": "06:00", "time_zone": "Europe/Zurich"}
    assert client.post(reverse("admin:changes_maintenancewindow_add"), data).status_code == 302
    assert kinds(change) == ["outside_maintenance_window"]
    assert "Sun 02:00–06:00" in change.conflicts[0]["detail"]
    mw = MaintenanceWindow.objects.get()
    data.update(weekdays=["0", "6"], start_time="08:00", end_time="12:00")
    assert client.post(reverse("admin:changes_maintenancewindow_change", args=[mw.pk]), data).status_code == 302
    assert kinds(change) == []
    bad = client.post(reverse("admin:changes_maintenancewindow_add"), {**data, "time_zone": "Mars/Olympus"})
    assert bad.status_code == 200 and "IANA" in bad.content.decode()


def test_editing_the_window_recomputes(make_change, approved_change, change_manager, window_times):
    start, end = window_times
    approved_change(planned_start=start, planned_end=end)
    change = make_change(planned_start=end + timedelta(days=1), planned_end=end + timedelta(days=1, hours=1))
    assert kinds(change) == []
    services.change_update(change=change, by=change_manager, planned_start=start, planned_end=end)
    assert kinds(change) == ["overlap"]
    services.change_update(change=change, by=change_manager, services=[ServiceFactory()])
    assert kinds(change) == []


def test_cancelling_the_other_change_clears_the_conflict(approved_change, make_change, change_manager,
                                                         window_times):
    start, end = window_times
    other = approved_change(planned_start=start, planned_end=end)
    change = make_change(planned_start=start, planned_end=end)
    assert kinds(change) == ["overlap"]
    services.change_transition(instance=other, name="cancel", by=change_manager)
    assert kinds(change) == []
    other.refresh_from_db()
    assert other.conflicts == []


def test_periodic_refresh_catches_up(make_change, approved_change, window_times):
    from changes.models import ChangeRequest
    from changes.tasks import refresh_conflicts

    start, end = window_times
    approved_change(planned_start=start, planned_end=end)
    change = make_change(planned_start=start, planned_end=end)
    ChangeRequest.objects.filter(pk=change.pk).update(conflicts=[])  # stale, as after a lost race
    assert refresh_conflicts() >= 1
    assert kinds(change) == ["overlap"]


# --- list pages: constant query counts ------------------------------------------------------


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def window_times(window):
    return window


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", ["/admin/changes/changerequest/", "/changes/", "/api/v1/changes/"])
def test_lists_keep_a_constant_query_count(client, superuser, approved_change, make_change, window_times, url):
    start, end = window_times
    client.force_login(superuser)
    approved_change(planned_start=start, planned_end=end)
    make_change(planned_start=start, planned_end=end)
    few = _count(client, url)
    for _ in range(8):
        team = TeamFactory()
        approved_change(planned_start=start, planned_end=end, implementer=team)
        make_change(planned_start=start, planned_end=end, implementer=team, services=[ServiceFactory()])
    assert _count(client, url) == few


def test_api_filters_by_conflicts(api_client, change_manager, approved_change, make_change, window_times):
    start, end = window_times
    other = approved_change(planned_start=start, planned_end=end)
    clash = make_change(planned_start=start, planned_end=end)
    calm = make_change(planned_start=end + timedelta(days=3), planned_end=end + timedelta(days=3, hours=1))
    client = api_client(change_manager)

    def ids(query):
        return {row["id"] for row in client.get(f"/api/v1/changes/{query}").json()["results"]}

    assert ids("?has_conflicts=true") == {clash.pk}  # a draft is nobody's counterpart
    assert calm.pk in ids("?has_conflicts=false") and clash.pk not in ids("?has_conflicts=false")
    assert ids("?conflict_kind=overlap") == {clash.pk} and other.pk not in ids("?has_conflicts=true")
    assert ids("?conflict_kind=freeze") == set()
    assert client.get("/api/v1/changes/?conflict_kind=nonsense").status_code == 400
