"""The board's screen in the Django admin, driven through its views with the test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from changes import services
from changes.choices import ChangeState
from changes.models import ChangeApproval, ChangeFreeze, ChangeRequest
from opsdesk.choices import Role
from opsdesk.models import TransitionLog

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:changes_changerequest_changelist")


def change_url(change):
    return reverse("admin:changes_changerequest_change", args=[change.pk])


def approve_url(change):
    return reverse("admin:changes_changerequest_approve", args=[change.pk])


def reject_url(change):
    return reverse("admin:changes_changerequest_reject", args=[change.pk])


def transition_url(change):
    return reverse("admin:changes_changerequest_transition", args=[change.pk])


def login(client, user):
    client.force_login(user)
    return client


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- change page: buttons -----------------------------------------------------------------


def test_change_page_shows_approve_button_for_my_role(client, submitted_change, tech_lead):
    change = submitted_change()
    response = login(client, tech_lead).get(change_url(change))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Approve as technical" in content
    assert "Approve as business" not in content
    assert 'name="name" value="approve"' not in content


def test_approve_button_records_approval(client, submitted_change, tech_lead):
    change = submitted_change()
    response = login(client, tech_lead).post(approve_url(change), {"comment": "Looks good"}, follow=True)
    assert response.status_code == 200
    assert f"You approved {change.number}." in messages_of(response)
    approval = ChangeApproval.objects.get(change=change)
    assert (approval.role, approval.approver, approval.comment) == ("technical", tech_lead, "Looks good")


def test_approve_needs_post(client, submitted_change, tech_lead):
    assert login(client, tech_lead).get(approve_url(submitted_change())).status_code == 405


def test_board_approves_through_the_buttons(client, submitted_change, board, approved_events):
    change = submitted_change()
    for role, member in board.items():
        client.force_login(member)
        client.post(approve_url(change), {"role": role})
    change.refresh_from_db()
    assert change.state == ChangeState.APPROVED
    assert approved_events == [change.pk]


def test_requester_and_non_member_are_refused(client, make_change, user_in_role, change_manager):
    requester = user_in_role(Role.CHANGE_MANAGERS, Role.TECH_LEADS, is_staff=True)
    change = make_change(requester=requester)
    services.change_transition(instance=change, name="submit", by=requester)
    login(client, requester)
    assert "Approve as" not in client.get(change_url(change)).content.decode()
    assert client.post(approve_url(change)).status_code == 403
    login(client, change_manager)
    assert client.post(approve_url(change)).status_code == 403
    assert not ChangeApproval.objects.exists()


def test_approving_a_draft_is_an_error_message(client, make_change, tech_lead):
    change = make_change()
    response = login(client, tech_lead).post(approve_url(change), follow=True)
    assert any("only submitted changes can be approved" in m for m in messages_of(response))
    assert not ChangeApproval.objects.exists()


def test_reject_page_requires_a_comment(client, submitted_change, product_owner):
    change = submitted_change()
    login(client, product_owner)
    page = client.get(reject_url(change))
    assert page.status_code == 200
    assert "Say why" in page.content.decode()
    response = client.post(reject_url(change), {"comment": ""})
    assert response.status_code == 400
    assert "Say why the change is rejected." in response.content.decode()
    change.refresh_from_db()
    assert change.state == ChangeState.SUBMITTED
    response = client.post(reject_url(change), {"comment": "No rollback tested"}, follow=True)
    assert f"You rejected {change.number}." in messages_of(response)
    change.refresh_from_db()
    assert change.state == ChangeState.REJECTED
    assert ChangeApproval.objects.get(change=change).comment == "No rollback tested"


def test_transition_buttons_go_through_the_service(client, approved_change, change_manager):
    change = approved_change()
    login(client, change_manager)
    content = client.get(change_url(change)).content.decode()
    assert 'value="start"' in content and 'value="cancel"' in content
    response = client.post(transition_url(change), {"name": "start", "expected_state": "approved"}, follow=True)
    assert f"{change.number}: start done." in messages_of(response)
    change.refresh_from_db()
    assert change.state == ChangeState.IN_PROGRESS
    assert TransitionLog.objects.filter(object_id=change.pk, transition="start", user=change_manager).exists()


def test_transition_button_refusals(client, approved_change, make_change, tech_lead, change_manager):
    change = approved_change()
    assert login(client, tech_lead).post(transition_url(change), {"name": "start"}).status_code == 403
    login(client, change_manager)
    response = client.post(transition_url(change), {"name": "approve"})
    assert response.status_code == 403
    response = client.post(transition_url(change), {"name": "verify"}, follow=True)
    assert any("Cannot verify" in m for m in messages_of(response))
    response = client.post(transition_url(change), {"name": "start", "expected_state": "draft"}, follow=True)
    assert any("changed by someone else" in m for m in messages_of(response))
    change.refresh_from_db()
    assert change.state == ChangeState.APPROVED


def test_submit_button_in_freeze_shows_the_freeze(client, make_change, change_manager):
    change = make_change()
    ChangeFreeze.objects.create(name="Quarter close", start=change.planned_start, end=change.planned_end)
    login(client, change_manager)
    content = client.get(change_url(change)).content.decode()
    assert 'id="board-freezes"' in content and "Quarter close" in content
    response = client.post(transition_url(change), {"name": "submit"}, follow=True)
    assert any("Quarter close" in m for m in messages_of(response))
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT


def test_conflicts_are_highlighted(client, approved_change, make_change, change_manager):
    other = approved_change()
    change = make_change(planned_start=other.planned_start, planned_end=other.planned_end)
    content = login(client, change_manager).get(change_url(change)).content.decode()
    assert 'id="board-conflicts"' in content and other.number in content


def test_emergency_close_asks_for_review(client, submitted_change, ops_manager, change_manager):
    change = submitted_change(change_type="emergency")
    services.change_approve(change=change, by=ops_manager)
    services.change_transition(instance=change, name="start", by=change_manager)
    login(client, change_manager)
    assert 'name="post_implementation_review"' in client.get(change_url(change)).content.decode()
    response = client.post(transition_url(change), {"name": "fail"}, follow=True)
    assert any("post-implementation review" in m for m in messages_of(response))
    client.post(transition_url(change), {"name": "roll_back", "post_implementation_review": "Reverted in 5 min"})
    change.refresh_from_db()
    assert change.state == ChangeState.ROLLED_BACK
    assert change.post_implementation_review == "Reverted in 5 min"


# --- nobody approves by editing a field ---------------------------------------------------


def test_process_fields_cannot_be_edited(client, make_change, change_manager, service):
    change = make_change()
    login(client, change_manager)
    page = client.get(change_url(change)).content.decode()
    assert 'name="state"' not in page and 'name="approved_at"' not in page and 'name="submitted_at"' not in page
    response = client.post(change_url(change), {
        "title": "Renamed", "change_type": "normal", "risk": "medium", "services": [service.pk],
        "testing_plan": "t", "rollback_plan": "r", "state": "approved", "approved_at_0": "2026-01-01",
        "approved_at_1": "10:00", "approvals-TOTAL_FORMS": "0", "approvals-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    change.refresh_from_db()
    assert (change.title, change.state, change.approved_at) == ("Renamed", "draft", None)


def test_submitted_change_is_read_only(client, submitted_change, change_manager, service):
    change = submitted_change()
    login(client, change_manager)
    page = client.get(change_url(change)).content.decode()
    assert 'name="title"' not in page
    assert 'name="_save"' not in page
    client.post(change_url(change), {"title": "Sneaky", "approvals-TOTAL_FORMS": "0",
                                     "approvals-INITIAL_FORMS": "0"})
    change.refresh_from_db()
    assert change.title != "Sneaky"


def test_approvers_see_a_read_only_page(client, submitted_change, tech_lead):
    change = submitted_change()
    response = login(client, tech_lead).post(change_url(change), {"title": "x"})
    assert response.status_code == 403


def test_approval_inline_and_admin_are_read_only(client, submitted_change, tech_lead, admin_user):
    change = submitted_change()
    services.change_approve(change=change, by=tech_lead, comment="ok")
    login(client, admin_user)
    page = client.get(change_url(change)).content.decode()
    assert "approvals-0-comment" not in page  # displayed, not an input
    assert "ok" in page
    approval = ChangeApproval.objects.get()
    assert client.get(reverse("admin:changes_changeapproval_add")).status_code == 403
    assert client.post(reverse("admin:changes_changeapproval_change", args=[approval.pk]),
                       {"decision": "rejected"}).status_code == 403
    assert client.post(reverse("admin:changes_changeapproval_delete", args=[approval.pk]),
                       {"post": "yes"}).status_code == 403
    approval.refresh_from_db()
    assert approval.decision == "approved"


def test_create_through_the_admin(client, change_manager, service):
    login(client, change_manager)
    assert client.get(reverse("admin:changes_changerequest_add")).status_code == 200
    response = client.post(reverse("admin:changes_changerequest_add"), {
        "title": "Patch kernels", "change_type": "normal", "risk": "low", "services": [service.pk],
        "planned_start_0": "2030-01-01", "planned_start_1": "10:00",
        "planned_end_0": "2030-01-01", "planned_end_1": "09:00",
        "approvals-TOTAL_FORMS": "0", "approvals-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    assert "The planned window must end after it starts." in response.content.decode()
    response = client.post(reverse("admin:changes_changerequest_add"), {
        "title": "Patch kernels", "change_type": "normal", "risk": "low", "services": [service.pk],
        "planned_start_0": "2030-01-01", "planned_start_1": "10:00",
        "planned_end_0": "2030-01-01", "planned_end_1": "12:00",
        "approvals-TOTAL_FORMS": "0", "approvals-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert (change.requester, change.state, list(change.services.all())) == (change_manager, "draft", [service])


# --- change list: filter, actions, query count --------------------------------------------


def test_awaiting_my_approval_filter(client, submitted_change, make_change, board, change_manager):
    waiting = submitted_change(title="Waiting on everyone")
    done_by_tech = submitted_change(title="Tech already said yes")
    services.change_approve(change=done_by_tech, by=board["technical"])
    make_change(title="Still a draft")
    response = login(client, board["technical"]).get(CHANGELIST, {"awaiting": "me"})
    assert [c.pk for c in response.context["cl"].result_list] == [waiting.pk]
    response = login(client, board["business"]).get(CHANGELIST, {"awaiting": "me"})
    assert {c.pk for c in response.context["cl"].result_list} == {waiting.pk, done_by_tech.pk}
    response = login(client, change_manager).get(CHANGELIST)
    assert "Awaiting my approval" not in response.content.decode()


def test_list_columns(client, approved_change, submitted_change, board, make_change, change_manager):
    other = approved_change()
    change = submitted_change(planned_start=other.planned_start, planned_end=other.planned_end)
    services.change_approve(change=change, by=board["technical"])
    services.change_approve(change=change, by=board["business"])
    content = login(client, change_manager).get(CHANGELIST).content.decode()
    assert "2/3: technical ✓ business ✓" in content
    assert "3/3: technical ✓ business ✓ operations ✓" in content
    assert "⚠ 1" in content


def test_approve_action_on_the_list(client, submitted_change, make_change, ops_manager):
    first, second = submitted_change(), submitted_change(change_type="emergency")
    draft = make_change()
    response = login(client, ops_manager).post(
        CHANGELIST, {"action": "approve_in_my_role", "_selected_action": [first.pk, second.pk, draft.pk]},
        follow=True,
    )
    messages = messages_of(response)
    assert "You approved 2 change(s)." in messages
    assert any(m.startswith(draft.number) and "only submitted changes" in m for m in messages)
    second.refresh_from_db()
    assert second.state == ChangeState.APPROVED
    assert ChangeApproval.objects.filter(approver=ops_manager).count() == 2


def test_reject_action_asks_for_a_comment(client, submitted_change, tech_lead):
    first, second = submitted_change(), submitted_change()
    login(client, tech_lead)
    data = {"action": "reject_selected", "_selected_action": [first.pk, second.pk]}
    page = client.post(CHANGELIST, data)
    assert page.status_code == 200
    assert "say why" in page.content.decode()
    page = client.post(CHANGELIST, {**data, "confirm": "yes", "comment": ""})
    assert "Say why the changes are rejected." in page.content.decode()
    assert not ChangeApproval.objects.exists()
    response = client.post(CHANGELIST, {**data, "confirm": "yes", "comment": "Not this quarter"}, follow=True)
    assert "You rejected 2 change(s)." in messages_of(response)
    assert set(ChangeRequest.objects.values_list("state", flat=True)) == {"rejected"}


def test_board_actions_hidden_from_non_members(client, change_manager, make_change):
    make_change()
    content = login(client, change_manager).get(CHANGELIST).content.decode()
    assert "approve_in_my_role" not in content


def test_change_list_query_count_is_constant(client, approved_change, submitted_change, make_change, board,
                                             change_manager):
    def build(n):
        for _ in range(n):
            change = submitted_change()
            services.change_approve(change=change, by=board["technical"])
            approved_change()
            make_change()

    login(client, board["business"])
    build(1)
    client.get(CHANGELIST)  # warm caches (content types, permissions, session)
    with CaptureQueriesContext(connection) as few:
        assert client.get(CHANGELIST, {"awaiting": "me"}).status_code == 200
    build(10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(CHANGELIST, {"awaiting": "me"})
    assert len(response.context["cl"].result_list) == 11
    assert len(many.captured_queries) == len(few.captured_queries)
    with CaptureQueriesContext(connection) as full:
        response = client.get(CHANGELIST)
    assert response.context["cl"].result_count == 33
    assert len(full.captured_queries) == len(few.captured_queries)


def test_template_and_freeze_admins_for_change_managers(client, change_manager, service):
    login(client, change_manager)
    response = client.post(reverse("admin:changes_changefreeze_add"), {
        "name": "Year end", "start_0": "2030-12-20", "start_1": "00:00", "end_0": "2031-01-02", "end_1": "00:00",
        "reason": "Closing the books",
    })
    assert response.status_code == 302
    assert ChangeFreeze.objects.get().name == "Year end"
    assert client.get(reverse("admin:changes_changefreeze_changelist")).status_code == 200
    assert client.get(reverse("admin:changes_standardchangetemplate_add")).status_code == 200


def test_window_column(client, make_change, change_manager):
    start = (timezone.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    overnight = start.replace(hour=23, minute=30)
    make_change(planned_start=start, planned_end=start + timedelta(hours=1))
    make_change(planned_start=overnight, planned_end=overnight + timedelta(hours=1))
    content = login(client, change_manager).get(CHANGELIST).content.decode()
    day = "%d %b" if start.year == timezone.localdate().year else "%d %b %Y"
    assert f"{start.strftime(day)} 10:00–11:00</span>" in content
    assert f"{overnight.strftime(day)} 23:30–00:30 +1d</span>" in content  # overnight: the next day
