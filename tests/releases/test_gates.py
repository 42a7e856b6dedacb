"""Each gate of §4: refused with exactly what is missing, then allowed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from changes.models import ChangeRequest
from opsdesk.exceptions import TransitionNotAllowed
from releases import services
from releases.gates import gate_status, missing_for, missing_labels
from releases.models import Release
from releases.selectors import releases_list
from tests.factories import ChangeRequestFactory, ReleaseFactory

pytestmark = pytest.mark.django_db


def _refused(release, name, by, missing):
    with pytest.raises(TransitionNotAllowed) as caught:
        services.release_transition(instance=release, name=name, by=by)
    assert caught.value.missing == missing  # codes for API clients
    for item in missing_labels(missing):  # words for people
        assert item in caught.value.message


def _force_change_state(change, state):
    """Put a change in a state directly (the changes app's own rules are tested there)."""
    ChangeRequest.objects.filter(pk=change.pk).update(state=state)


def test_prepare_needs_release_plan_timeline_and_resource_plan(release, release_manager):
    _refused(release, "prepare", release_manager,
             ["deliverable release_plan", "deliverable timeline", "deliverable resource_plan"])
    services.deliverable_add(release=release, by=release_manager, kind="timeline", link="https://wiki.example.test/t")
    _refused(release, "prepare", release_manager, ["deliverable release_plan", "deliverable resource_plan"])
    services.deliverable_add(release=release, by=release_manager, kind="release_plan", content="plan")
    services.deliverable_add(release=release, by=release_manager, kind="resource_plan", content="people")
    release = services.release_transition(instance=release, name="prepare", by=release_manager)
    assert release.state == "preparation"


def test_implement_needs_package_test_plans_rollback_plan(release, release_manager, advance):
    release = advance(release, release_manager, to="preparation")
    _refused(release, "implement", release_manager,
             ["deliverable release_package", "deliverable test_plans", "deliverable rollback_plan"])
    for kind in ("release_package", "test_plans", "rollback_plan"):
        services.deliverable_add(release=release, by=release_manager, kind=kind, content="x")
    assert services.release_transition(instance=release, name="implement", by=release_manager).state == \
        "implementation"


def test_implement_refused_while_a_linked_change_is_not_approved(release, release_manager, advance, satisfy):
    release = advance(release, release_manager, to="preparation")
    satisfy(release, "implement", release_manager)
    submitted = ChangeRequestFactory(release=release)
    _force_change_state(submitted, "submitted")
    draft = ChangeRequestFactory(release=release)
    cancelled = ChangeRequestFactory(release=release)
    _force_change_state(cancelled, "cancelled")
    approved = ChangeRequestFactory(release=release)
    _force_change_state(approved, "approved")
    rejected = ChangeRequestFactory(release=release)
    _force_change_state(rejected, "rejected")
    rolled_back = ChangeRequestFactory(release=release)  # was approved before it was rolled back
    _force_change_state(rolled_back, "rolled_back")
    _refused(release, "implement", release_manager, sorted([
        f"approval of change {submitted.number}", f"approval of change {draft.number}",
        f"approval of change {rejected.number}",
    ]))
    _force_change_state(submitted, "approved")
    _force_change_state(draft, "in_progress")
    _refused(release, "implement", release_manager, [f"approval of change {rejected.number}"])
    _force_change_state(rejected, "cancelled")
    assert services.release_transition(instance=release, name="implement", by=release_manager).state == \
        "implementation"


def test_verify_needs_deployment_report_and_a_succeeded_deployment(release, release_manager, advance):
    release = advance(release, release_manager, to="implementation")
    _refused(release, "verify", release_manager, ["deliverable deployment_report", "a succeeded deployment"])
    now = timezone.now()
    services.deployment_create(release=release, by=release_manager, environment="staging", status="running",
                               started_at=now - timedelta(minutes=5))
    services.deliverable_add(release=release, by=release_manager, kind="deployment_report", content="ok")
    _refused(release, "verify", release_manager, ["a succeeded deployment"])
    services.deployment_create(release=release, by=release_manager, environment="production",
                               status="succeeded", started_at=now - timedelta(minutes=5), finished_at=now)
    assert services.release_transition(instance=release, name="verify", by=release_manager).state == "verification"


def test_complete_needs_results_updates_and_all_four_checks_passed(release, release_manager, advance):
    release = advance(release, release_manager, to="verification")
    _refused(release, "complete", release_manager, [
        "deliverable test_results", "deliverable status_updates", "passed functionality_check",
        "passed performance_validation", "passed security_assessment", "passed documentation_review",
    ])
    services.deliverable_add(release=release, by=release_manager, kind="test_results", content="green")
    services.deliverable_add(release=release, by=release_manager, kind="status_updates", content="sent")
    for kind in ("functionality_check", "performance_validation", "documentation_review"):
        services.check_record(release=release, by=release_manager, kind=kind, passed=True)
    services.check_record(release=release, by=release_manager, kind="security_assessment", passed=False,
                          note="TLS config weak")
    _refused(release, "complete", release_manager, ["passed security_assessment"])
    services.check_record(release=release, by=release_manager, kind="security_assessment", passed=True)
    release = services.release_transition(instance=release, name="complete", by=release_manager)
    assert release.state == "completed"
    assert release.completed_at is not None


def test_failed_and_cancel_transitions_have_no_gate(release, release_manager, advance):
    assert missing_for(release, "cancel") == []
    assert services.release_transition(instance=release, name="cancel", by=release_manager).state == "cancelled"
    other = advance(ReleaseFactory(release_manager=release_manager), release_manager, to="implementation")
    assert services.release_transition(instance=other, name="roll_back", by=release_manager).state == "rolled_back"


def test_wrong_state_is_refused_without_missing_items(release, release_manager):
    with pytest.raises(TransitionNotAllowed) as caught:
        services.release_transition(instance=release, name="complete", by=release_manager)
    assert caught.value.missing == []
    assert "planning" in caught.value.message


def test_gate_status_reads_prefetched_data_without_queries(release, release_manager, satisfy,
                                                           django_assert_num_queries):
    satisfy(release, "prepare", release_manager)
    ChangeRequestFactory(release=release)
    fetched = releases_list().get(pk=release.pk)
    with django_assert_num_queries(0):
        status = gate_status(fetched)
        fetched.available_transitions_for(None)
    assert status["prepare"] == []
    assert status["implement"][:3] == [
        "deliverable release_package", "deliverable test_plans", "deliverable rollback_plan",
    ]
    assert status["implement"][3].startswith("approval of change CHG-")
    # Without prefetching, the same answer from the database.
    assert gate_status(Release.objects.get(pk=release.pk)) == status
