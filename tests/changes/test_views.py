"""The change manager's web pages: list, draft form, detail actions, calendar."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from changes import services
from changes.choices import ApprovalRole, ChangeState, Decision
from changes.models import ChangeApproval, ChangeFreeze, ChangeRequest
from opsdesk.choices import Role
from opsdesk.models import TransitionLog
from tests.factories import ChangeRequestFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def cm_client(client, change_manager):
    client.force_login(change_manager)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _follow_messages(client, response) -> str:
    """The page a POST redirected to, as text (with its messages)."""
    assert response.status_code == 302, getattr(response, "content", b"")[:500]
    return client.get(response["Location"]).content.decode()


def _form_data(service, **overrides) -> dict:
    data = {
        "title": "Upgrade the database",
        "description": "Minor version upgrade.",
        "change_type": "normal",
        "risk_user_impact": "none", "risk_complexity": "low", "risk_tested_in_staging": "yes",
        "risk_rollback_tested": "yes", "risk_outage_required": "no",
        "template": "",
        "services": [service.pk],
        "planned_start": "2026-12-10T22:00",
        "planned_end": "2026-12-11T01:00",
        "implementer": "",
        "impact_assessment": "Five minutes of read-only mode.",
        "business_justification": "Security fixes.",
        "implementation_plan": "Run the upgrade playbook.",
        "testing_plan": "Run the smoke tests.",
        "rollback_plan": "Restore the snapshot.",
    }
    data.update(overrides)
    return data


def _transition(client, change, name, **extra):
    data = {"name": name, "expected_state": change.state, "comment": "", **extra}
    return client.post(reverse("changes:transition", args=[change.pk]), data)


# --- create and edit ---------------------------------------------------------------------------


def test_create_draft_in_the_site_time_zone(cm_client, change_manager, service, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    team = TeamFactory()
    response = cm_client.post(
        reverse("changes:create"), _form_data(service, implementer=team.pk)
    )
    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("changes:detail", args=[change.pk])
    assert change.state == ChangeState.DRAFT
    assert change.requester == change_manager
    assert change.implementer == team
    assert list(change.services.all()) == [service]
    # 22:00 in Berlin (UTC+1 in December) is 21:00 UTC.
    assert change.planned_start == datetime(2026, 12, 10, 21, 0, tzinfo=UTC)
    assert change.planned_end == datetime(2026, 12, 11, 0, 0, tzinfo=UTC)
    assert change.rollback_plan == "Restore the snapshot."
    page = _follow_messages(cm_client, response)
    assert f"Draft {change.number} saved." in page


def test_create_form_shows_every_plan_field(cm_client):
    response = cm_client.get(reverse("changes:create"))
    assert response.status_code == 200
    body = response.content.decode()
    for name in (
        "title", "description", "change_type", "risk_user_impact", "risk_override", "template", "services",
        "planned_start", "planned_end",
        "implementer", "impact_assessment", "business_justification", "implementation_plan", "testing_plan",
        "rollback_plan",
    ):
        assert f'name="{name}"' in body, name
    assert 'type="datetime-local"' in body
    assert 'id="template-plans"' in body


def test_create_shows_validation_errors_and_saves_nothing(cm_client, service):
    response = cm_client.post(
        reverse("changes:create"),
        _form_data(service, title="", services=[], planned_start="2026-12-10T22:00", planned_end="2026-12-10T21:00"),
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["title"] == ["This field is required."]
    assert form.errors["services"] == ["Pick at least one service the change touches."]
    assert form.errors["planned_end"] == ["The planned end must be after the planned start."]
    assert "The change was not saved." in response.content.decode()
    assert ChangeRequest.objects.count() == 0


def test_create_shows_the_services_refusal_on_the_form(cm_client, service, template):
    # A template on a normal change is refused by change_create, not by the form.
    response = cm_client.post(reverse("changes:create"), _form_data(service, template=template.pk))
    assert response.status_code == 400
    assert response.context["form"].errors["template"] == [
        "Only a standard change uses a standard change template."
    ]
    assert ChangeRequest.objects.count() == 0


def test_create_standard_change_takes_the_templates_plans(cm_client, service, template):
    response = cm_client.post(
        reverse("changes:create"),
        _form_data(service, change_type="standard", risk="low", template=template.pk,
                   testing_plan="", rollback_plan="", implementation_plan=""),
    )
    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.template == template
    assert change.testing_plan == "Check the expiry date."
    assert change.rollback_plan == "Restore the old certificate."


def test_edit_draft(cm_client, make_change, service, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    change = make_change(
        title="Old title", planned_start=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        planned_end=datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
    )
    url = reverse("changes:edit", args=[change.pk])
    page = cm_client.get(url).content.decode()
    assert 'value="2026-12-05T10:00"' in page  # 09:00 UTC shown in Berlin time
    other = ServiceFactory()
    response = cm_client.post(url, _form_data(service, title="New title", services=[service.pk, other.pk]))
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.title == "New title"
    assert set(change.services.all()) == {service, other}
    assert change.planned_start == datetime(2026, 12, 10, 21, 0, tzinfo=UTC)


def test_edit_shows_validation_errors(cm_client, make_change, service):
    change = make_change(title="Keep me")
    response = cm_client.post(reverse("changes:edit", args=[change.pk]), _form_data(service, title=""))
    assert response.status_code == 400
    assert response.context["form"].errors["title"] == ["This field is required."]
    change.refresh_from_db()
    assert change.title == "Keep me"


def test_editing_a_submitted_change_is_refused(cm_client, submitted_change, service):
    change = submitted_change(title="Submitted")
    url = reverse("changes:edit", args=[change.pk])
    response = cm_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("changes:detail", args=[change.pk])
    page = _follow_messages(cm_client, response)
    assert f"{change.number} is submitted: only drafts can be edited." in page

    response = cm_client.post(url, _form_data(service, title="Changed behind the board's back"))
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.title == "Submitted"
    # The detail page offers no edit link for it.
    assert url not in cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.API_READERS, Role.TECH_LEADS])
def test_non_change_managers_may_not_create_or_edit(client, user_in_role, make_change, service, role):
    change = make_change()
    client.force_login(user_in_role(role))
    assert client.get(reverse("changes:create")).status_code == 403
    response = client.post(reverse("changes:create"), _form_data(service))
    assert response.status_code == 403
    assert "Only Change Managers may create changes." in response.content.decode()
    assert client.get(reverse("changes:edit", args=[change.pk])).status_code == 403
    assert client.post(reverse("changes:edit", args=[change.pk]), _form_data(service, title="x")).status_code == 403
    assert ChangeRequest.objects.count() == 1
    change.refresh_from_db()
    assert change.title != "x"
    # They still read the list and the page, without the buttons of a change manager.
    list_page = client.get(reverse("changes:list")).content.decode()
    assert reverse("changes:create") not in list_page
    detail = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'id="actions"' not in detail


def test_anonymous_users_go_to_the_login_page(client, make_change):
    change = make_change()
    for url in (
        reverse("changes:list"), reverse("changes:create"), reverse("changes:detail", args=[change.pk]),
        reverse("changes:calendar"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_user_without_a_role_gets_403(client, user_in_role, make_change):
    change = make_change()
    client.force_login(user_in_role())
    assert client.get(reverse("changes:list")).status_code == 403
    assert client.get(reverse("changes:detail", args=[change.pk])).status_code == 403
    assert client.get(reverse("changes:calendar")).status_code == 403


def test_unknown_change_is_404(cm_client):
    assert cm_client.get(reverse("changes:detail", args=[999])).status_code == 404
    assert cm_client.get(reverse("changes:edit", args=[999])).status_code == 404
    assert cm_client.post(reverse("changes:transition", args=[999]), {"name": "submit"}).status_code == 404


# --- transitions from the detail page ----------------------------------------------------------


def test_submit_from_the_page(cm_client, make_change):
    change = make_change()
    page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'value="submit"' in page
    assert 'name="expected_state" value="draft"' in page
    response = _transition(cm_client, change, "submit", comment="Ready for the board")
    page = _follow_messages(cm_client, response)
    change.refresh_from_db()
    assert change.state == ChangeState.SUBMITTED
    assert change.submitted_at == NOW
    assert f"{change.number} is now submitted." in page
    log = TransitionLog.objects.get(object_id=change.pk, transition="submit")
    assert log.comment == "Ready for the board"
    assert "Still waiting for: Technical, Business, Operations." in page


def test_submit_inside_a_freeze_is_refused_with_the_message(cm_client, make_change):
    change = make_change(
        planned_start=datetime(2026, 12, 24, 10, 0, tzinfo=UTC), planned_end=datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    )
    ChangeFreeze.objects.create(
        name="Year-end freeze", start=datetime(2026, 12, 20, tzinfo=UTC), end=datetime(2027, 1, 3, tzinfo=UTC)
    )
    detail = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert "Year-end freeze" in detail
    assert "cannot be submitted: move the window" in detail
    response = _transition(cm_client, change, "submit")
    page = _follow_messages(cm_client, response)
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT
    assert "The planned window falls inside the change freeze “Year-end freeze”" in page
    assert "alert-danger" in page


def test_submit_without_plans_shows_what_is_missing(cm_client, make_change):
    change = make_change(testing_plan="", rollback_plan="")
    page = _follow_messages(cm_client, _transition(cm_client, change, "submit"))
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT
    assert "A testing plan is required to submit." in page
    assert "A rollback plan is required to submit." in page


def test_start_verify_complete_from_the_page(cm_client, approved_change):
    change = approved_change()
    assert change.state == ChangeState.APPROVED
    for name, state in (("start", ChangeState.IN_PROGRESS), ("verify", ChangeState.VERIFYING),
                        ("complete", ChangeState.COMPLETED)):
        page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
        assert f'value="{name}"' in page
        _follow_messages(cm_client, _transition(cm_client, change, name))
        change.refresh_from_db()
        assert change.state == state
    assert change.actual_start == NOW
    assert change.actual_end == NOW
    page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'id="actions"' not in page  # nothing left to do


def test_roll_back_from_the_page(cm_client, approved_change):
    change = approved_change()
    _transition(cm_client, change, "start")
    change.refresh_from_db()
    _follow_messages(cm_client, _transition(cm_client, change, "roll_back", comment="Errors after deploy"))
    change.refresh_from_db()
    assert change.state == ChangeState.ROLLED_BACK


def _emergency_in_verifying(make_change, change_manager, ops_manager):
    change = make_change(change_type="emergency", post_implementation_review="")
    change = services.change_transition(instance=change, name="submit", by=change_manager)
    services.change_approve(change=change, by=ops_manager)
    change.refresh_from_db()
    change = services.change_transition(instance=change, name="start", by=change_manager)
    return services.change_transition(instance=change, name="verify", by=change_manager)


def test_emergency_close_needs_the_review_note(cm_client, make_change, change_manager, ops_manager):
    change = _emergency_in_verifying(make_change, change_manager, ops_manager)
    page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'name="post_implementation_review"' in page

    page = _follow_messages(cm_client, _transition(cm_client, change, "complete", post_implementation_review="  "))
    change.refresh_from_db()
    assert change.state == ChangeState.VERIFYING
    assert "An emergency change needs a post-implementation review note." in page

    _follow_messages(
        cm_client, _transition(cm_client, change, "complete", post_implementation_review="Root cause fixed.")
    )
    change.refresh_from_db()
    assert change.state == ChangeState.COMPLETED
    assert change.post_implementation_review == "Root cause fixed."


def test_normal_change_has_no_review_field(cm_client, approved_change):
    change = approved_change()
    _transition(cm_client, change, "start")
    page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'name="post_implementation_review"' not in page


def test_stale_page_is_refused_as_a_concurrent_update(cm_client, make_change, change_manager):
    change = make_change()
    seen = change.state
    services.change_transition(instance=change, name="cancel", by=change_manager)
    response = cm_client.post(
        reverse("changes:transition", args=[change.pk]), {"name": "submit", "expected_state": seen}
    )
    page = _follow_messages(cm_client, response)
    assert "was changed by someone else: it is now cancelled" in page
    change.refresh_from_db()
    assert change.state == ChangeState.CANCELLED


def test_wrong_state_and_unknown_transition_are_messages(cm_client, make_change):
    change = make_change()
    page = _follow_messages(cm_client, _transition(cm_client, change, "start"))
    assert f"Cannot start {change.number}: it is draft." in page
    page = _follow_messages(cm_client, _transition(cm_client, change, "approve"))
    assert "That action is not available on this page." in page
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT


def test_transition_by_service_desk_is_403(client, service_desk_user, make_change):
    change = make_change()
    client.force_login(service_desk_user)
    response = _transition(client, change, "submit")
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT


def test_transition_needs_post(cm_client, make_change):
    change = make_change()
    assert cm_client.get(reverse("changes:transition", args=[change.pk])).status_code == 405


# --- board decisions from the page -------------------------------------------------------------


def test_tech_lead_approves_from_the_page(client, tech_lead, submitted_change):
    change = submitted_change()
    client.force_login(tech_lead)
    page = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'id="decision"' in page
    assert "You decide as <strong>Technical</strong>" in page
    response = client.post(reverse("changes:approve", args=[change.pk]), {"role": "technical", "comment": "LGTM"})
    page = _follow_messages(client, response)
    approval = ChangeApproval.objects.get(change=change)
    assert (approval.role, approval.approver, approval.decision, approval.comment) == (
        ApprovalRole.TECHNICAL, tech_lead, Decision.APPROVED, "LGTM",
    )
    assert f"You approved {change.number}." in page
    assert "Still waiting for: Business, Operations." in page
    assert 'id="decision"' not in page  # one decision per person
    change.refresh_from_db()
    assert change.state == ChangeState.SUBMITTED


def test_last_approval_approves_the_change(client, board, submitted_change):
    change = submitted_change()
    services.change_approve(change=change, by=board["technical"])
    services.change_approve(change=change, by=board["business"])
    client.force_login(board["operations"])
    client.post(reverse("changes:approve", args=[change.pk]), {"comment": ""})
    change.refresh_from_db()
    assert change.state == ChangeState.APPROVED


def test_reject_needs_a_comment(client, product_owner, submitted_change):
    change = submitted_change()
    client.force_login(product_owner)
    page = _follow_messages(client, client.post(reverse("changes:reject", args=[change.pk]), {"comment": " "}))
    assert "Say why you reject the change (a comment is required)." in page
    assert not ChangeApproval.objects.exists()
    change.refresh_from_db()
    assert change.state == ChangeState.SUBMITTED

    _follow_messages(client, client.post(reverse("changes:reject", args=[change.pk]), {"comment": "No budget"}))
    change.refresh_from_db()
    assert change.state == ChangeState.REJECTED
    page = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert "“No budget”" in page


def test_change_manager_sees_no_decision_form_and_may_not_approve(cm_client, submitted_change):
    change = submitted_change()
    page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'id="decision"' not in page
    response = cm_client.post(reverse("changes:approve", args=[change.pk]), {"comment": ""})
    assert response.status_code == 403
    assert not ChangeApproval.objects.exists()


def test_approving_a_draft_is_a_message(client, tech_lead, make_change):
    change = make_change()
    client.force_login(tech_lead)
    page = _follow_messages(client, client.post(reverse("changes:approve", args=[change.pk]), {}))
    assert f"{change.number} is draft: only submitted changes can be approved." in page


def test_member_of_two_boards_picks_the_role(client, user_in_role, submitted_change):
    member = user_in_role(Role.TECH_LEADS, Role.OPS_MANAGERS)
    change = submitted_change()
    client.force_login(member)
    page = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert '<option value="technical">Technical</option>' in page
    assert '<option value="operations">Operations</option>' in page
    client.post(reverse("changes:approve", args=[change.pk]), {"role": "operations"})
    assert ChangeApproval.objects.get(change=change).role == ApprovalRole.OPERATIONS


# --- detail -----------------------------------------------------------------------------------


def test_detail_shows_conflicts_approvals_and_history(cm_client, make_change, approved_change, service, board):
    start = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    other = approved_change(planned_start=start, planned_end=start + timedelta(hours=3), title="Network work")
    change = make_change(planned_start=start + timedelta(hours=1), planned_end=start + timedelta(hours=2))
    page = cm_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert 'id="conflicts"' in page
    assert f'href="{reverse("changes:detail", args=[other.pk])}">{other.number}</a> · Overlaps' in page
    assert "1 conflict" in page

    page = cm_client.get(reverse("changes:detail", args=[other.pk])).content.decode()
    for member in board.values():
        assert member.get_full_name() in page
    assert page.count('<span class="badge text-bg-success">approved</span>') == 3
    assert "Board decision (technical)" in page
    assert "Submitted → Approved" in page


def test_detail_hides_confidential_incidents(client, service_desk_user, make_change, user_in_role):
    from tests.factories import IncidentFactory

    change = make_change()
    public = IncidentFactory(title="Public outage")
    secret = IncidentFactory(title="Secret breach", confidential=True)
    change.incidents.add(public, secret)
    client.force_login(service_desk_user)
    page = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert "Public outage" in page
    assert "Secret breach" not in page
    assert "and 1 confidential incident you may not see" in page
    client.force_login(user_in_role(Role.INCIDENT_MANAGERS))
    page = client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert "Secret breach" in page


def test_detail_query_count_does_not_grow(cm_client, make_change, board, submitted_change, service):
    def measure(change):
        with CaptureQueriesContext(connection) as ctx:
            assert cm_client.get(reverse("changes:detail", args=[change.pk])).status_code == 200
        return len(ctx.captured_queries)

    small = submitted_change()
    services.change_approve(change=small, by=board["technical"])
    big = submitted_change(services=[service, ServiceFactory(), ServiceFactory()])
    services.change_approve(change=big, by=board["technical"])
    services.change_approve(change=big, by=board["business"])
    for _ in range(3):
        approved_start = big.planned_start
        ChangeRequestFactory(requester=board["technical"], services=[service], planned_start=approved_start)
    assert measure(small) == measure(big)


# --- list -------------------------------------------------------------------------------------


def _rows(response) -> list[str]:
    return [row.record.number for row in response.context["table"].page.object_list]


def test_list_shows_the_columns(cm_client, submitted_change, board):
    change = submitted_change(title="Patch the load balancers")
    services.change_approve(change=change, by=board["technical"])
    page = cm_client.get(reverse("changes:list")).content.decode()
    for text in ("Patch the load balancers", change.number, "Normal", "Low", "Submitted",
                 change.services.get().name, "1/3: technical ✓", "New change"):
        assert text in page, text


def test_list_filters(cm_client, make_change, submitted_change, service):
    other_service = ServiceFactory()
    draft = make_change(title="Rotate keys", risk="low")
    # (the emergency change keeps the factory's medium risk: drafts are scored when saved through the services)
    submitted = submitted_change(title="Upgrade kernel", risk="high", risk_override_reason="Touches every host.")
    emergency = make_change(title="Hotfix", change_type="emergency", services=[other_service],
                            planned_start=datetime(2027, 1, 20, tzinfo=UTC),
                            planned_end=datetime(2027, 1, 21, tzinfo=UTC))
    url = reverse("changes:list")
    assert set(_rows(cm_client.get(url))) == {draft.number, submitted.number, emergency.number}
    assert _rows(cm_client.get(url, {"state": "submitted"})) == [submitted.number]
    assert set(_rows(cm_client.get(url, {"state": ["submitted", "draft"]}))) == {
        draft.number, submitted.number, emergency.number,
    }
    assert _rows(cm_client.get(url, {"change_type": "emergency"})) == [emergency.number]
    assert _rows(cm_client.get(url, {"risk": "low"})) == [draft.number]
    assert _rows(cm_client.get(url, {"service": other_service.pk})) == [emergency.number]
    assert _rows(cm_client.get(url, {"q": "kernel"})) == [submitted.number]
    assert _rows(cm_client.get(url, {"q": emergency.number})) == [emergency.number]
    assert _rows(cm_client.get(url, {"planned_after": "2027-01-01T00:00"})) == [emergency.number]
    assert set(_rows(cm_client.get(url, {"planned_before": "2026-12-31T00:00"}))) == {
        draft.number, submitted.number,
    }


def test_list_sorts_and_paginates(cm_client, make_change):
    for day in range(30):
        make_change(planned_start=datetime(2026, 12, 2 + day % 28, tzinfo=UTC) + timedelta(minutes=day),
                    planned_end=datetime(2026, 12, 2 + day % 28, 5, tzinfo=UTC) + timedelta(minutes=day))
    url = reverse("changes:list")
    first = cm_client.get(url, {"sort": "planned_window"})
    starts = [row.record.planned_start for row in first.context["table"].page.object_list]
    assert len(starts) == 25 and starts == sorted(starts)
    second = cm_client.get(url, {"sort": "planned_window", "page": 2})
    assert len(list(second.context["table"].page.object_list)) == 5
    newest = cm_client.get(url, {"sort": "-number"})
    numbers = _rows(newest)
    assert numbers == sorted(numbers, reverse=True)


def test_list_pages_without_counting_every_change(cm_client, make_change, monkeypatch):
    made = [make_change() for _ in range(30)]
    url = reverse("changes:list")
    with CaptureQueriesContext(connection) as ctx:
        second = cm_client.get(url, {"page": 2})
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1
    if connection.vendor == "postgresql":
        assert "LIMIT 1001" in counts[0]  # exact up to the cap, no COUNT(*) of the table
    newest_first = [c.number for c in sorted(made, key=lambda c: (c.created_at, c.pk), reverse=True)]
    assert _rows(second) == newest_first[25:]
    assert "30 changes" in second.content.decode()
    monkeypatch.setattr("opsdesk.pagination.cheap_count", lambda queryset, cap: (123456, True))
    assert "about 123,456 changes" in cm_client.get(url).content.decode()


def test_list_query_count_is_constant(cm_client, make_change, board, submitted_change):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert cm_client.get(reverse("changes:list")).status_code == 200
        return len(ctx.captured_queries)

    submitted_change()
    few = measure()
    for _ in range(12):
        change = submitted_change(services=[ServiceFactory(), ServiceFactory()])
        services.change_approve(change=change, by=board["technical"])
    assert measure() == few
    # session, user, 2 × permissions, the user's groups (navigation), the filter form's services
    # and teams, count, rows, the rows' services, the rows' approvals; the major-incident banner;
    # the user's saved filters of the list
    assert few == 13


# --- calendar ---------------------------------------------------------------------------------


def _cells(page: str) -> dict[str, str]:
    """The calendar's day cells by date (YYYY-MM-DD → the cell's HTML)."""
    cells = {}
    for match in re.finditer(r'<td class="([^"]*)" data-date="(\d{4}-\d\d-\d\d)"(.*?)</td>', page, re.S):
        cells[match.group(2)] = match.group(1) + match.group(3)
    return cells


def test_calendar_shows_changes_on_their_days_and_freezes_shaded(cm_client, make_change, change_manager):
    two_days = make_change(planned_start=datetime(2026, 12, 8, 22, 0, tzinfo=UTC),
                           planned_end=datetime(2026, 12, 9, 2, 0, tzinfo=UTC))
    cancelled = make_change(planned_start=datetime(2026, 12, 15, 10, 0, tzinfo=UTC),
                            planned_end=datetime(2026, 12, 15, 11, 0, tzinfo=UTC))
    services.change_transition(instance=cancelled, name="cancel", by=change_manager)
    next_month = make_change(planned_start=datetime(2027, 1, 12, 10, 0, tzinfo=UTC),
                             planned_end=datetime(2027, 1, 12, 11, 0, tzinfo=UTC))
    ChangeFreeze.objects.create(name="Year-end freeze", start=datetime(2026, 12, 23, tzinfo=UTC),
                                end=datetime(2026, 12, 27, tzinfo=UTC))
    response = cm_client.get(reverse("changes:calendar"), {"month": "2026-12"})
    page = response.content.decode()
    cells = _cells(page)
    assert "December 2026" in page
    # December 2026 starts on a Tuesday: the grid runs from Monday 30 Nov to Sunday 3 Jan.
    assert min(cells) == "2026-11-30" and max(cells) == "2027-01-03" and len(cells) == 35
    assert two_days.number in cells["2026-12-08"] and f"22:00 <strong>{two_days.number}</strong>" in cells["2026-12-08"]
    assert two_days.number in cells["2026-12-09"]
    assert two_days.number not in cells["2026-12-10"]
    assert cancelled.number not in page
    assert next_month.number not in page
    frozen = {day for day, html in cells.items() if "frozen" in html.split(">", 1)[0]}
    assert frozen == {"2026-12-23", "2026-12-24", "2026-12-25", "2026-12-26"}
    assert "❄ Year-end freeze" in cells["2026-12-24"]
    assert f'href="{reverse("changes:detail", args=[two_days.pk])}"' in cells["2026-12-08"]
    assert 'href="?month=2026-11"' in page and 'href="?month=2027-01"' in page


def test_calendar_month_navigation(cm_client, make_change):
    january = make_change(planned_start=datetime(2027, 1, 12, 10, 0, tzinfo=UTC),
                          planned_end=datetime(2027, 1, 12, 11, 0, tzinfo=UTC))
    page = cm_client.get(reverse("changes:calendar"), {"month": "2027-01"}).content.decode()
    assert "January 2027" in page
    assert january.number in _cells(page)["2027-01-12"]
    assert 'href="?month=2026-12"' in page and 'href="?month=2027-02"' in page
    # Without a month: this month (the clock says December 2026).
    page = cm_client.get(reverse("changes:calendar")).content.decode()
    assert "December 2026" in page
    assert 'today' in _cells(page)["2026-12-01"]


def test_calendar_bad_month_falls_back_to_this_month(cm_client):
    response = cm_client.get(reverse("changes:calendar"), {"month": "2026-13"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "December 2026" in page
    assert "Months are written YYYY-MM; showing this month instead." in page


def test_calendar_days_follow_the_site_time_zone(cm_client, make_change, settings):
    settings.TIME_ZONE = "America/New_York"
    change = make_change(planned_start=datetime(2026, 12, 9, 2, 0, tzinfo=UTC),  # 21:00 on the 8th in New York
                         planned_end=datetime(2026, 12, 9, 3, 0, tzinfo=UTC))
    cells = _cells(cm_client.get(reverse("changes:calendar"), {"month": "2026-12"}).content.decode())
    assert f"21:00 <strong>{change.number}</strong>" in cells["2026-12-08"]
    assert change.number not in cells["2026-12-09"]


def test_calendar_query_count_is_constant(cm_client, make_change):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert cm_client.get(reverse("changes:calendar"), {"month": "2026-12"}).status_code == 200
        return len(ctx.captured_queries)

    make_change(planned_start=datetime(2026, 12, 3, 9, tzinfo=UTC), planned_end=datetime(2026, 12, 3, 10, tzinfo=UTC))
    ChangeFreeze.objects.create(name="Freeze", start=datetime(2026, 12, 1, tzinfo=UTC),
                                end=datetime(2026, 12, 2, tzinfo=UTC))
    few = measure()
    service = ServiceFactory()
    for day in range(20):
        make_change(planned_start=datetime(2026, 12, 1 + day, 9, tzinfo=UTC),
                    planned_end=datetime(2026, 12, 2 + day, 10, tzinfo=UTC))
    for index in range(3):
        freeze = ChangeFreeze.objects.create(
            name=f"Freeze {index}", start=datetime(2026, 12, 5 + index * 5, tzinfo=UTC),
            end=datetime(2026, 12, 7 + index * 5, tzinfo=UTC),
        )
        freeze.services.add(service)
    assert measure() == few
    # session, user, 2 × permissions, the user's groups (navigation), changes, freezes, their services,
    # the user's calendar feed tokens; the major-incident banner
    assert few == 10


@pytest.mark.parametrize("params", [
    {"page": "999"}, {"page": "abc"}, {"service": "abc"}, {"state": "nonsense"}, {"sort": "services"},
    {"planned_after": "yesterday"},
])
def test_list_survives_bad_parameters(cm_client, make_change, params):
    make_change()
    response = cm_client.get(reverse("changes:list"), params)
    # Out-of-range pages show the last page; bad filter values show the form's errors.
    assert response.status_code == 200
