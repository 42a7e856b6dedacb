"""CAB meetings: the automatic agenda, the board page in the admin, deciding in place, minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from changes import selectors, services
from changes.models import CABMeeting, ChangeApproval
from opsdesk.exceptions import DomainValidationError


@pytest.fixture
def meeting(change_manager):
    now = timezone.now()
    return services.cab_meeting_create(by=change_manager, starts_at=now + timedelta(days=2),
                                       cutoff=now + timedelta(days=1))


def board_url(meeting):
    return reverse("admin:changes_cabmeeting_board", args=[meeting.pk])


def decide_url(meeting, change):
    return reverse("admin:changes_cabmeeting_decide", args=[meeting.pk, change.pk])


def test_agenda_is_normal_changes_submitted_before_the_cutoff_awaiting_a_decision(
    meeting, submitted_change, make_change, board, change_manager
):
    waiting = submitted_change()
    partly = submitted_change()
    services.change_approve(change=partly, by=board["technical"])
    emergency = submitted_change(change_type="emergency")
    make_change()  # a draft
    decided = submitted_change()
    services.change_reject(change=decided, by=board["business"], comment="No.")
    late = submitted_change()
    late.submitted_at = meeting.cutoff + timedelta(minutes=1)
    late.save()
    assert [c.pk for c in selectors.cab_agenda(meeting)] == [waiting.pk, partly.pk]
    assert emergency.pk not in {c.pk for c in selectors.cab_agenda(meeting)}


def test_meeting_needs_cutoff_before_start_and_a_change_manager(change_manager, tech_lead):
    now = timezone.now()
    with pytest.raises(DomainValidationError):
        services.cab_meeting_create(by=change_manager, starts_at=now, cutoff=now + timedelta(hours=1))
    with pytest.raises(PermissionDenied):
        services.cab_meeting_create(by=tech_lead, starts_at=now)
    default = services.cab_meeting_create(by=change_manager, starts_at=now)
    assert default.cutoff == now - timedelta(hours=24)


def test_board_page_shows_agenda_with_risk_conflicts_plans_and_decisions(
    client, meeting, submitted_change, approved_change, board, window
):
    start, end = window
    other = approved_change(planned_start=start, planned_end=end)
    change = submitted_change(planned_start=start, planned_end=end, implementation_plan="Roll the nodes.")
    services.change_approve(change=change, by=board["technical"], comment="Tech fine.")
    client.force_login(board["business"])
    page = client.get(board_url(meeting)).content.decode()
    assert f'id="change-{change.pk}"' in page
    assert "Roll the nodes." in page and "Tech fine." in page and "Business: waiting" in page
    assert reverse("admin:changes_changerequest_change", args=[other.pk]) in page  # the conflict's link
    assert "Overlaps another change" in page
    assert f"{change.get_risk_display()} risk · {change.risk_score}" in page
    assert f'action="{decide_url(meeting, change)}"' in page
    client.force_login(board["technical"])  # already decided: no form for this change
    assert f'action="{decide_url(meeting, change)}"' not in client.get(board_url(meeting)).content.decode()


def test_deciding_in_place_uses_the_decision_services_and_records_the_attendee(
    client, meeting, submitted_change, board
):
    first, second = submitted_change(), submitted_change()
    client.force_login(board["operations"])
    response = client.post(decide_url(meeting, first), {"decision": "approved", "comment": "Window is fine."})
    assert response.status_code == 302 and response["Location"].endswith(f"#change-{first.pk}")
    approval = ChangeApproval.objects.get(change=first)
    assert (approval.role, approval.decision, approval.comment) == ("operations", "approved", "Window is fine.")
    assert list(meeting.attendees.all()) == [board["operations"]]
    # A rejection needs a comment: refused as a message, nothing recorded.
    page = client.post(decide_url(meeting, second), {"decision": "rejected", "comment": ""}, follow=True)
    assert "Say why the change is rejected." in page.content.decode()
    assert not ChangeApproval.objects.filter(change=second).exists()
    client.post(decide_url(meeting, second), {"decision": "rejected", "comment": "Untested rollback."})
    second.refresh_from_db()
    assert second.state == "rejected"
    page = client.get(board_url(meeting)).content.decode()
    assert f'id="change-{second.pk}"' not in page and f'id="decided-{second.pk}"' in page


def test_deciding_is_refused_to_the_requester_and_outside_the_agenda(
    client, meeting, submitted_change, change_manager, make_change, user_in_role
):
    from opsdesk.choices import Role

    lead = user_in_role(Role.TECH_LEADS, is_staff=True)
    own = submitted_change(requester=lead)
    client.force_login(lead)
    assert client.post(decide_url(meeting, own), {"decision": "approved"}).status_code == 403
    draft = make_change()
    page = client.post(decide_url(meeting, draft), {"decision": "approved"}, follow=True).content.decode()
    assert "is not on the agenda" in page
    assert not ChangeApproval.objects.exists()


def test_minutes_and_attendees_by_change_managers_only(client, meeting, change_manager, board):
    client.force_login(change_manager)
    url = reverse("admin:changes_cabmeeting_minutes", args=[meeting.pk])
    response = client.post(url, {"minutes": "Two approved, one deferred.",
                                 "attendees": [board["technical"].pk, change_manager.pk]})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.minutes == "Two approved, one deferred." and meeting.minutes_recorded_by == change_manager
    assert set(meeting.attendees.all()) == {board["technical"], change_manager}
    client.force_login(board["technical"])
    assert client.post(url, {"minutes": "Hijacked"}).status_code == 403
    meeting.refresh_from_db()
    assert meeting.minutes == "Two approved, one deferred."


def test_board_page_query_count_is_constant(client, meeting, submitted_change, board, window):
    client.force_login(board["business"])

    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(board_url(meeting)).status_code == 200
        return len(ctx.captured_queries)

    submitted_change()
    few = measure()
    for _ in range(6):
        change = submitted_change()
        services.change_approve(change=change, by=board["technical"])
    assert measure() == few


def test_meeting_list_and_add_in_the_admin(client, change_manager, submitted_change):
    submitted_change()
    client.force_login(change_manager)
    now = timezone.localtime()
    start, cutoff = now + timedelta(days=7), now + timedelta(days=6)
    response = client.post(reverse("admin:changes_cabmeeting_add"), {
        "title": "Weekly CAB", "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": start.strftime("%H:%M:%S"),
        "cutoff_0": cutoff.strftime("%Y-%m-%d"), "cutoff_1": cutoff.strftime("%H:%M:%S"), "minutes": "",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    meeting = CABMeeting.objects.get(title="Weekly CAB")
    listing = client.get(reverse("admin:changes_cabmeeting_changelist")).content.decode()
    assert board_url(meeting) in listing and "Weekly CAB" in listing
    bad = client.post(reverse("admin:changes_cabmeeting_add"), {
        "title": "Wrong", "starts_at_0": cutoff.strftime("%Y-%m-%d"), "starts_at_1": "10:00:00",
        "cutoff_0": start.strftime("%Y-%m-%d"), "cutoff_1": "10:00:00", "minutes": "",
    })
    assert bad.status_code == 200 and "at or before the start" in bad.content.decode()
