"""The change model: transitions as a state machine, protected state, constraints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from changes.choices import REQUIRED_APPROVAL_ROLES, ChangeState
from changes.models import BOARD_TRANSITIONS, ChangeFreeze, ChangeRequest
from opsdesk.exceptions import DomainValidationError

pytestmark = pytest.mark.django_db


def test_number_is_assigned(make_change):
    change = make_change()
    assert change.number == f"CHG-{change.pk:06d}"
    assert str(change) == change.number


def test_state_is_protected(make_change):
    change = make_change()
    with pytest.raises(AttributeError):
        change.state = ChangeState.APPROVED


def test_transition_graph():
    change = ChangeRequest()
    graph = {
        (t.name, t.source, t.target) for t in change.get_all_state_transitions()
    }
    assert ("submit", "draft", "submitted") in graph
    assert ("approve", "submitted", "approved") in graph
    assert ("reject", "submitted", "rejected") in graph
    assert ("start", "approved", "in_progress") in graph
    assert ("verify", "in_progress", "verifying") in graph
    assert ("complete", "verifying", "completed") in graph
    assert {("fail", s, "failed") for s in ("in_progress", "verifying")} <= graph
    assert {("roll_back", s, "rolled_back") for s in ("in_progress", "verifying")} <= graph
    assert {s for name, s, _ in graph if name == "cancel"} == {"draft", "submitted", "approved"}


def test_submit_checks_plans_and_window(make_change):
    change = make_change(testing_plan="", planned_end=None)
    with pytest.raises(DomainValidationError) as exc:
        change.submit(by=None, at=timezone.now())
    assert set(exc.value.errors) == {"testing_plan", "planned_end"}


def test_submit_sets_submitted_at_and_freeze_flag(make_change):
    change = make_change(change_type="emergency")
    at = timezone.now()
    change.submit(by=None, at=at, in_freeze=True)
    assert (change.state, change.submitted_at, change.in_freeze) == ("submitted", at, True)


def test_outcome_of_emergency_needs_review(make_change):
    change = make_change(change_type="emergency")
    with pytest.raises(DomainValidationError):
        change._require_review(None)
    change._require_review("  All good  ")
    assert change.post_implementation_review == "All good"


def test_board_transitions_are_not_offered(make_change, admin_user):
    change = make_change()
    assert set(BOARD_TRANSITIONS) & set(change.available_transitions_for(admin_user)) == set()
    assert change.available_transitions_for(admin_user) == ["cancel", "submit"]


def test_required_roles():
    assert REQUIRED_APPROVAL_ROLES["standard"] == ()
    assert REQUIRED_APPROVAL_ROLES["normal"] == ("technical", "business", "operations")
    assert REQUIRED_APPROVAL_ROLES["emergency"] == ("operations",)


def test_freeze_must_start_before_it_ends():
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeFreeze.objects.create(name="Backwards", start=now, end=now - timedelta(hours=1))
