"""The change services: editing drafts, submit, freezes, board decisions, notifications."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from changes import selectors, services
from changes.choices import ChangeState
from changes.models import ChangeApproval, ChangeFreeze, ChangeRequest
from opsdesk.choices import Role
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.models import Notification, TransitionLog
from tests.factories import LOW_RISK_ANSWERS, ServiceFactory

pytestmark = pytest.mark.django_db


# --- create / update ------------------------------------------------------------------


def test_create_sets_requester_services_and_template_plans(change_manager, service, template):
    change = services.change_create(
        by=change_manager, title="Renew TLS", change_type="standard", risk_answers=LOW_RISK_ANSWERS,
        template=template, services=[service],
    )
    assert change.requester == change_manager
    assert change.state == ChangeState.DRAFT
    assert change.number == f"CHG-{change.pk:06d}"
    assert list(change.services.all()) == [service]
    assert change.testing_plan == "Check the expiry date."
    assert change.rollback_plan == "Restore the old certificate."


def test_create_refused_without_permission(service_desk_user, service):
    with pytest.raises(PermissionDenied):
        services.change_create(by=service_desk_user, title="x", services=[service])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"services": []}, "services"),
        ({"state": "approved"}, "state"),
        ({"approved_at": timezone.now()}, "approved_at"),
        ({"change_type": "weird"}, "change_type"),
    ],
)
def test_create_validates_fields(change_manager, service, fields, field):
    data = {"title": "Upgrade", "services": [service], **fields}
    with pytest.raises(DomainValidationError) as exc:
        services.change_create(by=change_manager, **data)
    assert field in exc.value.errors


def test_create_refuses_window_ending_before_start(change_manager, service, window):
    start, end = window
    with pytest.raises(DomainValidationError) as exc:
        services.change_create(by=change_manager, title="x", services=[service], planned_start=end, planned_end=start)
    assert exc.value.errors == {"planned_end": ["The planned window must end after it starts."]}


def test_template_only_for_standard_changes(change_manager, service, template):
    with pytest.raises(DomainValidationError) as exc:
        services.change_create(by=change_manager, title="x", services=[service], template=template)
    assert exc.value.errors == {"template": ["Only a standard change uses a standard change template."]}


def test_update_edits_a_draft(make_change, change_manager, service):
    change = make_change()
    other = ServiceFactory()
    updated = services.change_update(change=change, by=change_manager, title="New title", services=[service, other])
    assert updated.title == "New title"
    assert set(updated.services.all()) == {service, other}


def test_update_refused_once_submitted(submitted_change, change_manager):
    change = submitted_change()
    with pytest.raises(TransitionNotAllowed, match="only draft changes can be edited"):
        services.change_update(change=change, by=change_manager, title="Sneaky")
    change.refresh_from_db()
    assert change.title != "Sneaky"


def test_update_refused_without_permission(make_change, tech_lead):
    with pytest.raises(PermissionDenied):
        services.change_update(change=make_change(), by=tech_lead, title="x")


# --- submit ---------------------------------------------------------------------------


def test_submit_needs_plans_and_window(make_change, change_manager):
    change = make_change(testing_plan="", rollback_plan=" ", planned_start=None, planned_end=None)
    with pytest.raises(DomainValidationError) as exc:
        services.change_transition(instance=change, name="submit", by=change_manager)
    assert set(exc.value.errors) == {"testing_plan", "rollback_plan", "planned_end"}
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT
    assert change.submitted_at is None


def test_submit_sets_submitted_at_and_is_logged(make_change, change_manager):
    change = make_change()
    at = timezone.now().replace(microsecond=0)
    with time_machine.travel(at, tick=False):
        change = services.change_transition(instance=change, name="submit", by=change_manager, comment="Go")
    assert change.state == ChangeState.SUBMITTED
    assert change.submitted_at == at
    assert change.approved_at is None
    entry = TransitionLog.objects.get(object_id=change.pk, transition="submit")
    assert (entry.from_state, entry.to_state, entry.user, entry.comment) == ("draft", "submitted", change_manager, "Go")


def test_submit_refused_without_permission(make_change, tech_lead):
    with pytest.raises(PermissionDenied):
        services.change_transition(instance=make_change(), name="submit", by=tech_lead)


def test_standard_change_is_approved_at_submit(make_change, change_manager, template):
    change = make_change(change_type="standard", risk="low", template=template)
    change = services.change_transition(instance=change, name="submit", by=change_manager)
    assert change.state == ChangeState.APPROVED
    assert change.approved_at == change.submitted_at
    approve = TransitionLog.objects.get(object_id=change.pk, transition="approve")
    assert approve.user is None
    assert "pre-approved" in approve.comment
    assert not ChangeApproval.objects.filter(change=change).exists()


MEDIUM_RISK_ANSWERS = {**LOW_RISK_ANSWERS, "user_impact": "all", "complexity": "high"}


@pytest.mark.parametrize(
    ("fields", "field"), [({"template": None}, "template"), ({"risk_answers": MEDIUM_RISK_ANSWERS}, "risk")]
)
def test_standard_change_needs_template_and_low_risk(make_change, change_manager, template, fields, field):
    change = make_change(**{"change_type": "standard", "risk": "low", "template": template, **fields})
    with pytest.raises(DomainValidationError) as exc:
        services.change_transition(instance=change, name="submit", by=change_manager)
    assert field in exc.value.errors
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT


def test_board_transitions_cannot_be_called_directly(submitted_change, ops_manager):
    change = submitted_change()
    for name in ("approve", "reject"):
        with pytest.raises(PermissionDenied):
            services.change_transition(instance=change, name=name, by=ops_manager)
    assert "approve" not in change.available_transitions_for(ops_manager)


# --- freezes --------------------------------------------------------------------------


@pytest.mark.parametrize("change_type", ["normal", "standard"])
def test_freeze_refuses_standard_and_normal(make_change, change_manager, template, window, change_type):
    start, end = window
    ChangeFreeze.objects.create(name="Year-end freeze", start=start - timedelta(days=1), end=start + timedelta(hours=1))
    change = make_change(change_type=change_type, risk="low", template=template if change_type == "standard" else None)
    with pytest.raises(DomainValidationError) as exc:
        services.change_transition(instance=change, name="submit", by=change_manager)
    assert "Year-end freeze" in exc.value.errors["planned_start"][0]
    change.refresh_from_db()
    assert change.state == ChangeState.DRAFT


def test_freeze_of_other_services_does_not_apply(make_change, change_manager, window):
    start, end = window
    freeze = ChangeFreeze.objects.create(name="Billing freeze", start=start, end=end)
    freeze.services.set([ServiceFactory()])
    change = services.change_transition(instance=make_change(), name="submit", by=change_manager)
    assert change.state == ChangeState.SUBMITTED
    assert change.in_freeze is False


def test_freeze_of_the_change_service_applies(make_change, change_manager, service, window):
    start, end = window
    freeze = ChangeFreeze.objects.create(
        name="Checkout freeze", start=start + timedelta(hours=1), end=end + timedelta(days=1)
    )
    freeze.services.set([service, ServiceFactory()])
    change = make_change()
    assert list(selectors.freezes_covering(change)) == [freeze]
    with pytest.raises(DomainValidationError, match="Checkout freeze"):
        services.change_transition(instance=change, name="submit", by=change_manager)


def test_freeze_touching_the_window_edge_does_not_apply(make_change, change_manager, window):
    start, end = window
    ChangeFreeze.objects.create(name="Before", start=start - timedelta(days=1), end=start)
    ChangeFreeze.objects.create(name="After", start=end, end=end + timedelta(days=1))
    change = make_change(planned_start=start, planned_end=end)
    assert not selectors.freezes_covering(change).exists()
    assert services.change_transition(instance=change, name="submit", by=change_manager).in_freeze is False


def test_emergency_change_in_freeze_is_allowed_and_flagged(make_change, change_manager, window):
    start, end = window
    ChangeFreeze.objects.create(name="Year-end freeze", start=start, end=end)
    change = services.change_transition(
        instance=make_change(change_type="emergency"), name="submit", by=change_manager
    )
    assert change.state == ChangeState.SUBMITTED
    assert change.in_freeze is True


# --- board decisions ------------------------------------------------------------------


def test_normal_change_needs_all_three_roles(submitted_change, board, approved_events):
    change = submitted_change()
    services.change_approve(change=change, by=board["technical"])
    services.change_approve(change=change, by=board["business"])
    change.refresh_from_db()
    assert change.state == ChangeState.SUBMITTED
    assert change.approved_at is None
    assert approved_events == []
    at = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    with time_machine.travel(at, tick=False):
        approval = services.change_approve(change=change, by=board["operations"], comment="Fine by ops")
    change.refresh_from_db()
    assert change.state == ChangeState.APPROVED
    assert change.approved_at == at
    assert approval.decided_at == at
    assert (approval.role, approval.decision, approval.comment) == ("operations", "approved", "Fine by ops")
    assert sorted(change.approvals.values_list("role", flat=True)) == ["business", "operations", "technical"]
    assert approved_events == [change.pk]
    final = TransitionLog.objects.get(object_id=change.pk, transition="approve")
    assert final.user == board["operations"]
    assert final.comment == "Approved as operations: Fine by ops"


def test_partial_approvals_are_logged(submitted_change, tech_lead):
    change = submitted_change()
    services.change_approve(change=change, by=tech_lead, comment="ok")
    entry = TransitionLog.objects.get(object_id=change.pk, transition="approval:technical")
    assert (entry.from_state, entry.to_state, entry.user) == ("submitted", "submitted", tech_lead)


def test_one_rejection_rejects(submitted_change, board, approved_events):
    change = submitted_change()
    services.change_approve(change=change, by=board["technical"])
    services.change_reject(change=change, by=board["business"], comment="No business case")
    change.refresh_from_db()
    assert change.state == ChangeState.REJECTED
    assert change.approved_at is None
    assert approved_events == []
    with pytest.raises(TransitionNotAllowed, match="only submitted changes"):
        services.change_approve(change=change, by=board["operations"])


def test_rejection_needs_a_comment(submitted_change, tech_lead):
    change = submitted_change()
    with pytest.raises(DomainValidationError) as exc:
        services.change_reject(change=change, by=tech_lead, comment="  ")
    assert exc.value.errors == {"comment": ["Say why the change is rejected."]}
    assert not ChangeApproval.objects.exists()


def test_emergency_change_needs_one_operations_approval(submitted_change, ops_manager, tech_lead, approved_events):
    change = submitted_change(change_type="emergency")
    with pytest.raises(PermissionDenied, match="decided by operations"):
        services.change_approve(change=change, by=tech_lead)
    services.change_approve(change=change, by=ops_manager)
    change.refresh_from_db()
    assert change.state == ChangeState.APPROVED
    assert approved_events == [change.pk]


def test_emergency_change_needs_review_note_before_closing(submitted_change, ops_manager, change_manager):
    change = submitted_change(change_type="emergency")
    services.change_approve(change=change, by=ops_manager)
    change = services.change_transition(instance=change, name="start", by=change_manager)
    change = services.change_transition(instance=change, name="verify", by=change_manager)
    with pytest.raises(DomainValidationError) as exc:
        services.change_transition(instance=change, name="complete", by=change_manager)
    assert "post_implementation_review" in exc.value.errors
    change = services.change_transition(
        instance=change, name="complete", by=change_manager, post_implementation_review="Went fine."
    )
    assert change.state == ChangeState.COMPLETED
    assert change.post_implementation_review == "Went fine."
    assert change.actual_end is not None and change.actual_start is not None


def test_normal_change_closes_without_review(approved_change, change_manager):
    change = approved_change()
    change = services.change_transition(instance=change, name="start", by=change_manager)
    change = services.change_transition(instance=change, name="roll_back", by=change_manager)
    assert change.state == ChangeState.ROLLED_BACK


def test_refused_for_non_member(submitted_change, change_manager, service_desk_user):
    change = submitted_change()
    for user in (change_manager, service_desk_user):
        with pytest.raises(PermissionDenied, match="not in a change board group"):
            services.change_approve(change=change, by=user)


def test_refused_for_role_outside_own_groups(submitted_change, tech_lead):
    with pytest.raises(PermissionDenied, match="Only members of Ops Managers"):
        services.change_approve(change=submitted_change(), by=tech_lead, role="operations")


def test_refused_for_the_requester(make_change, tech_lead, user_in_role):
    requester = user_in_role(Role.CHANGE_MANAGERS, Role.TECH_LEADS)
    change = make_change(requester=requester)
    services.change_transition(instance=change, name="submit", by=requester)
    with pytest.raises(PermissionDenied, match="You requested this change"):
        services.change_approve(change=change, by=requester)
    services.change_approve(change=change, by=tech_lead)
    assert change.approvals.get().approver == tech_lead


def test_one_person_one_role(submitted_change, user_in_role):
    both = user_in_role(Role.TECH_LEADS, Role.OPS_MANAGERS)
    change = submitted_change()
    services.change_approve(change=change, by=both, role="technical")
    with pytest.raises(PermissionDenied, match="one person decides at most one role"):
        services.change_approve(change=change, by=both, role="operations")
    assert change.approvals.count() == 1


def test_role_required_only_with_several_groups(submitted_change, user_in_role, tech_lead):
    both = user_in_role(Role.TECH_LEADS, Role.PRODUCT_OWNERS)
    change = submitted_change()
    with pytest.raises(DomainValidationError) as exc:
        services.change_approve(change=change, by=both)
    assert "role" in exc.value.errors
    assert services.change_approve(change=change, by=both, role="business").role == "business"
    assert services.change_approve(change=change, by=tech_lead).role == "technical"


def test_unknown_role_is_a_validation_error(submitted_change, tech_lead):
    with pytest.raises(DomainValidationError) as exc:
        services.change_approve(change=submitted_change(), by=tech_lead, role="janitor")
    assert "role" in exc.value.errors


def test_role_already_decided(submitted_change, tech_lead, user_in_role):
    other_lead = user_in_role(Role.TECH_LEADS)
    change = submitted_change()
    services.change_approve(change=change, by=tech_lead)
    with pytest.raises(TransitionNotAllowed, match="technical role .* was already decided"):
        services.change_approve(change=change, by=other_lead)


def test_change_must_be_submitted(make_change, tech_lead):
    with pytest.raises(TransitionNotAllowed, match="is draft: only submitted changes can be approved"):
        services.change_approve(change=make_change(), by=tech_lead)


def test_standard_change_has_no_board(make_change, change_manager, template, tech_lead):
    change = make_change(change_type="standard", risk="low", template=template)
    services.change_transition(instance=change, name="submit", by=change_manager)
    with pytest.raises(TransitionNotAllowed):
        services.change_approve(change=change, by=tech_lead)


def test_database_constraints_back_the_rules(submitted_change, tech_lead, user_in_role):
    """Even bypassing the service checks, the constraints refuse a second decision per role/approver."""
    change = submitted_change()
    ChangeApproval.objects.create(change=change, role="technical", approver=tech_lead, decision="approved")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeApproval.objects.create(change=change, role="technical", approver=user_in_role(Role.TECH_LEADS),
                                      decision="approved")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeApproval.objects.create(change=change, role="business", approver=tech_lead, decision="approved")


def test_integrity_error_becomes_concurrent_update(submitted_change, tech_lead, user_in_role, monkeypatch):
    """A decision that races in past the checks hits the constraint: 409, not a 500."""
    change = submitted_change()
    other = user_in_role(Role.TECH_LEADS)
    services.change_approve(change=change, by=other)
    # Pretend the earlier decision was not visible when the rules were checked.
    real = ChangeRequest.approvals.related_manager_cls.select_related

    def hide(self, *args, **kwargs):
        return real(self, *args, **kwargs).none()

    monkeypatch.setattr(ChangeRequest.approvals.related_manager_cls, "select_related", hide)
    with pytest.raises(ConcurrentUpdate, match="at the same moment"):
        services.change_approve(change=change, by=tech_lead)
    assert change.approvals.count() == 1


def test_approvals_are_append_only(submitted_change, tech_lead):
    from opsdesk.exceptions import AppendOnlyError

    approval = services.change_approve(change=submitted_change(), by=tech_lead)
    approval.comment = "changed"
    with pytest.raises(AppendOnlyError):
        approval.save()
    with pytest.raises(AppendOnlyError):
        approval.delete()


# --- notifications ----------------------------------------------------------------------


def test_submit_notifies_the_approvers_of_needed_roles(make_change, change_manager, board, user_in_role):
    user_in_role(Role.SERVICE_DESK, email="desk@example.test")
    change = services.change_transition(instance=make_change(), name="submit", by=change_manager)
    rows = Notification.objects.filter(object_id=change.pk)
    assert sorted(rows.values_list("recipient", flat=True)) == sorted(u.email for u in board.values())
    assert all("awaits your approval" in row.subject for row in rows)


def test_emergency_submit_notifies_operations_only(make_change, change_manager, board):
    change = services.change_transition(instance=make_change(change_type="emergency"), name="submit", by=change_manager)
    assert list(Notification.objects.filter(object_id=change.pk).values_list("recipient", flat=True)) == [
        board["operations"].email
    ]


def test_submit_notification_queries_do_not_grow_with_approvers(
    make_change, change_manager, django_assert_num_queries, user_in_role
):
    def submit_count():
        change = make_change()
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            services.change_transition(instance=change, name="submit", by=change_manager)
        inserts = Notification.objects.filter(object_id=change.pk).count()
        return len(ctx.captured_queries), inserts

    user_in_role(Role.TECH_LEADS)
    submit_count()  # warm the content-type cache
    few, few_rows = submit_count()
    for _ in range(5):
        user_in_role(Role.PRODUCT_OWNERS)
    many, many_rows = submit_count()
    # Only the outbox inserts (a savepoint pair + insert per recipient) grow; the lookups do not.
    per_row = 3 if connection.features.uses_savepoints else 1
    assert many - few == (many_rows - few_rows) * per_row


def test_requester_notified_of_approval_and_rejection(submitted_change, board, change_manager):
    approved = submitted_change()
    for member in board.values():
        services.change_approve(change=approved, by=member)
    rejected = submitted_change()
    services.change_reject(change=rejected, by=board["technical"], comment="Too risky")
    to_requester = Notification.objects.filter(recipient=change_manager.email)
    assert to_requester.get(object_id=approved.pk).subject.startswith(f"{approved.number} was approved")
    rejection = to_requester.get(object_id=rejected.pk)
    assert rejection.subject.startswith(f"{rejected.number} was rejected")
    assert "Too risky" in rejection.body


# --- conflicts ------------------------------------------------------------------------


def _others(change, kind="overlap"):
    change.refresh_from_db()
    return [item["change"] for item in change.conflicts if item["kind"] == kind]


def test_conflicts_shown_on_each_side(approved_change, make_change, service, window):
    start, end = window
    first = approved_change(planned_start=start, planned_end=end)
    second = approved_change(planned_start=start + timedelta(hours=1), planned_end=end + timedelta(hours=1))
    draft = make_change(planned_start=start, planned_end=end)
    assert _others(first) == [second.pk]
    assert _others(second) == [first.pk]
    assert _others(draft) == [first.pk, second.pk]
    assert draft.conflicts[0]["number"] == first.number and service.name in draft.conflicts[0]["detail"]


def test_no_conflict_without_shared_service_or_overlap(approved_change, make_change, window):
    start, end = window
    approved_change(planned_start=start, planned_end=end, services=[ServiceFactory()])
    approved_change(planned_start=end, planned_end=end + timedelta(hours=1))
    draft = make_change(planned_start=start, planned_end=end)
    draft.refresh_from_db()
    assert draft.conflicts == []


def test_only_approved_or_in_progress_changes_conflict(submitted_change, approved_change, make_change, window,
                                                      change_manager):
    start, end = window
    submitted_change(planned_start=start, planned_end=end)
    done = approved_change(planned_start=start, planned_end=end)
    done = services.change_transition(instance=done, name="start", by=change_manager)
    draft = make_change(planned_start=start, planned_end=end)
    assert _others(draft) == [done.pk]
    services.change_transition(instance=done, name="verify", by=change_manager)
    assert _others(draft) == []


# --- concurrency ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_final_approvals_approve_once(role_groups, board, change_manager, service, approved_events):
    """Business and operations approve in the same instant: both recorded, approved exactly once."""
    change = services.change_create(
        by=change_manager, title="Concurrent", services=[service], testing_plan="t", rollback_plan="r",
        risk_answers=LOW_RISK_ANSWERS,
        planned_start=timezone.now() + timedelta(days=1), planned_end=timezone.now() + timedelta(days=1, hours=1),
    )
    services.change_transition(instance=change, name="submit", by=change_manager)
    services.change_approve(change=change, by=board["technical"])
    barrier = threading.Barrier(2)
    errors = []

    def decide(user):
        try:
            barrier.wait()
            services.change_approve(change=change, by=user)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(board[r],)) for r in ("business", "operations")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    change.refresh_from_db()
    assert change.state == ChangeState.APPROVED
    assert change.approvals.count() == 3
    assert TransitionLog.objects.filter(object_id=change.pk, transition="approve").count() == 1
    assert approved_events == [change.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_same_role_records_one(role_groups, change_manager, service, user_in_role):
    leads = [user_in_role(Role.TECH_LEADS) for _ in range(2)]
    change = services.change_create(
        by=change_manager, title="Race", services=[service], testing_plan="t", rollback_plan="r",
        risk_answers=LOW_RISK_ANSWERS,
        planned_start=timezone.now() + timedelta(days=1), planned_end=timezone.now() + timedelta(days=1, hours=1),
    )
    services.change_transition(instance=change, name="submit", by=change_manager)
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(user):
        try:
            barrier.wait()
            services.change_approve(change=change, by=user)
            outcomes.append("ok")
        except TransitionNotAllowed:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(lead,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert ChangeApproval.objects.filter(change=change).count() == 1


def test_awaiting_my_approval(submitted_change, board, user_in_role, make_change, change_manager):
    waiting = submitted_change()
    decided_by_tech = submitted_change()
    services.change_approve(change=decided_by_tech, by=board["technical"])
    emergency = submitted_change(change_type="emergency")
    make_change()  # a draft is not waiting on anyone
    assert set(selectors.changes_awaiting_approval_by(board["technical"])) == {waiting}
    assert set(selectors.changes_awaiting_approval_by(board["business"])) == {waiting, decided_by_tech}
    assert set(selectors.changes_awaiting_approval_by(board["operations"])) == {waiting, decided_by_tech, emergency}
    assert not selectors.changes_awaiting_approval_by(change_manager).exists()
    # A tech lead and ops manager in one person who decided one role is done with the change.
    both = user_in_role(Role.TECH_LEADS, Role.OPS_MANAGERS)
    services.change_approve(change=waiting, by=both, role="operations")
    assert waiting not in set(selectors.changes_awaiting_approval_by(both))
    assert decided_by_tech in set(selectors.changes_awaiting_approval_by(both))
    # The requester never sees their own change.
    own = user_in_role(Role.CHANGE_MANAGERS, Role.PRODUCT_OWNERS)
    mine = make_change(requester=own)
    services.change_transition(instance=mine, name="submit", by=own)
    assert mine not in set(selectors.changes_awaiting_approval_by(own))


@pytest.mark.real_release
def test_approved_change_joins_release_planning(submitted_change, board):
    """The real hand-off to releases: an approved normal change lands in a release in planning."""
    change = submitted_change()
    for member in board.values():
        services.change_approve(change=change, by=member)
    change.refresh_from_db()
    assert change.release is not None
    assert change.release.state == "planning"
    assert set(change.release.services.all()) >= set(change.services.all())


@pytest.mark.real_release
def test_standard_change_does_not_join_a_release(make_change, change_manager, template):
    change = make_change(change_type="standard", risk="low", template=template)
    change = services.change_transition(instance=change, name="submit", by=change_manager)
    change.refresh_from_db()
    assert change.release is None
