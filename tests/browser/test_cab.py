"""An approver works a CAB meeting's agenda in the admin: decides two changes in place, sees the agenda update."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from changes import services
from changes.models import ChangeApproval
from opsdesk.choices import Role
from tests.factories import LOW_RISK_ANSWERS, ChangeRequestFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.browser

def test_an_approver_decides_two_changes_on_the_meeting_page(page, live_server, login, screenshot):
    manager = UserFactory(username="cm", roles=[Role.CHANGE_MANAGERS], is_staff=True)
    ops = UserFactory(username="olga", first_name="Olga", last_name="Marsh", roles=[Role.OPS_MANAGERS],
                      is_staff=True)
    lead = UserFactory(username="tara", first_name="Tara", last_name="Lindqvist", roles=[Role.TECH_LEADS],
                       is_staff=True)
    payments = ServiceFactory(name="Payments API", criticality="critical")
    team = TeamFactory(name="Business Applications")
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=4)
    changes = []
    for title, answers in (("Rotate database credentials", LOW_RISK_ANSWERS),
                           ("Deploy new payment provider adapter",
                            {**LOW_RISK_ANSWERS, "user_impact": "all", "complexity": "high"})):
        change = ChangeRequestFactory(title=title, requester=manager, services=[payments], implementer=team,
                                      risk_answers=answers, planned_start=start, planned_end=start + timedelta(hours=2),
                                      implementation_plan="Follow the runbook.")
        changes.append(services.change_transition(instance=change, name="submit", by=manager))
    owner = UserFactory(username="pavel", first_name="Pavel", last_name="Owens", roles=[Role.PRODUCT_OWNERS])
    services.change_approve(change=changes[0], by=lead, comment="Tested in staging.")
    services.change_approve(change=changes[0], by=owner, comment="Needed before the audit.")
    meeting = services.cab_meeting_create(by=manager, title="Weekly CAB", starts_at=start - timedelta(days=1))
    meeting.cutoff = timezone.now() + timedelta(hours=1)
    meeting.save()
    rotate, adapter = changes

    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, live_server, ops)
    page.goto(f"{live_server.url}/admin/changes/cabmeeting/")
    page.get_by_role("link", name="Open the board").click()
    page.wait_for_url(f"**/admin/changes/cabmeeting/{meeting.pk}/board/")
    assert "Agenda: 2 changes awaiting a decision" in page.locator("#content-main").inner_text()
    card = page.locator(f"#change-{adapter.pk}")
    assert "Overlaps another change" not in card.inner_text()  # neither is approved yet
    assert "Technical: waiting" in card.inner_text()
    shot = screenshot(page, "cab-board-1280-before")

    # Approve the first change as operations, with a comment: it completes the set and leaves the agenda.
    rotate_card = page.locator(f"#change-{rotate.pk}")
    rotate_card.locator("textarea").fill("Fine from operations; keep the old secret for a day.")
    rotate_card.get_by_role("button", name=f"Approve {rotate.number}").click()
    page.wait_for_load_state()
    assert f"You approved {rotate.number}." in page.locator(".messagelist").inner_text()
    assert page.locator(f"#change-{rotate.pk}").count() == 0
    assert rotate.number in page.locator("#decided-table").inner_text()

    # The second card now shows the approved change as an overlap on the same service and team.
    card = page.locator(f"#change-{adapter.pk}")
    assert "Overlaps another change" in card.inner_text() and "Implementer busy" in card.inner_text()
    # Rejecting without a comment is refused in place; with one, the agenda is clear.
    card.get_by_role("button", name=f"Reject {adapter.number}").click()
    page.wait_for_load_state()
    assert "Say why the change is rejected." in page.locator(".messagelist").inner_text()
    card = page.locator(f"#change-{adapter.pk}")
    card.locator("textarea").fill("Clashes with the credential rotation: plan it for the week after.")
    card.get_by_role("button", name=f"Reject {adapter.number}").click()
    page.wait_for_load_state()
    assert f"You rejected {adapter.number}." in page.locator(".messagelist").inner_text()
    assert "Nothing awaits a decision" in page.locator("#agenda-empty").inner_text()
    assert "Clashes with the credential rotation" in page.locator("#decided-table").inner_text()
    after = screenshot(page, "cab-board-1280-after")

    rotate.refresh_from_db()
    adapter.refresh_from_db()
    assert (rotate.state, adapter.state) == ("approved", "rejected")
    assert set(ChangeApproval.objects.filter(meeting=meeting).values_list("approver__username", flat=True)) == {
        "olga"
    }
    assert list(meeting.attendees.values_list("username", flat=True)) == ["olga"]
    assert shot.exists() and after.exists()  # test-artifacts/; docs/screenshots/ holds copies from the demo
