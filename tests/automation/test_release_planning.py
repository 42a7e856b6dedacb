"""``approved_change_to_release``: an approved normal or emergency change joins release planning."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import AutomationRun
from changes import services as change_services
from changes.models import ChangeRequest
from opsdesk import events
from opsdesk.models import Notification
from opsdesk.templatetags.opsdesk_format import format_when
from releases import services as release_services
from releases.models import Release
from tests.factories import ChangeRequestFactory, ReleaseFactory, ServiceFactory

from .conftest import run_together, runs

pytestmark = pytest.mark.django_db

RULE = "approved_change_to_release"


def approve(change, board):
    """Submit (by the requester) and approve through the board, as people do."""
    change = change_services.change_transition(instance=change, name="submit", by=None)
    for member in board.values():
        change_services.change_approve(change=change, by=member)
    change.refresh_from_db()
    return change


def test_an_approved_change_opens_a_planning_release_named_after_its_service(board, release_manager):
    service = ServiceFactory(name="Payments API")
    start = timezone.now() + timedelta(days=3)
    change = approve(ChangeRequestFactory(services=[service], planned_start=start,
                                          planned_end=start + timedelta(hours=1)), board)
    release = Release.objects.get()
    assert change.release == release
    assert (release.state, release.release_manager, release.created_by_rule) == ("planning", None, RULE)
    assert release.name == f"Payments API release {format_when(timezone.localdate(start))}"
    assert release.planned_date == timezone.localdate(start)
    assert list(release.services.all()) == [service]
    told = Notification.objects.filter(subject=f"{release.number} created for approved change {change.number}")
    assert release_manager.email in set(told.values_list("recipient", flat=True))
    run = AutomationRun.objects.get(rule__key=RULE)
    assert run.outcome == "acted" and run.subject_number == change.number
    assert sorted((r.action, r.number) for r in run.records.all()) == [
        ("changed", change.number), ("created", release.number),
    ]


def test_the_rules_release_name_follows_the_services_of_the_changes_that_join(board, release_manager):
    payments, email = ServiceFactory(name="Payments API"), ServiceFactory(name="Email")
    start = timezone.now() + timedelta(days=3)
    approve(ChangeRequestFactory(services=[payments], planned_start=start, planned_end=start + timedelta(hours=1)),
            board)
    release = Release.objects.get()
    approve(ChangeRequestFactory(services=[payments, email], planned_start=start,
                                 planned_end=start + timedelta(hours=1)), board)
    release.refresh_from_db()
    assert release.name == f"Payments API release {format_when(release.planned_date)} (+ 1 more service)"
    # a name a person gave is kept
    release_services.release_update(release=release, by=release_manager, name="Spring payments")
    approve(ChangeRequestFactory(services=[payments, ServiceFactory(name="VPN")], planned_start=start,
                                 planned_end=start + timedelta(hours=1)), board)
    release.refresh_from_db()
    assert release.name == "Spring payments"


def test_it_joins_the_oldest_planning_release_of_its_services(board, release_manager):
    service, extra = ServiceFactory(), ServiceFactory()
    old = ReleaseFactory(services=[service], created_at=timezone.now() - timedelta(days=3))
    ReleaseFactory(services=[service])  # newer
    moved_on = ReleaseFactory(services=[service], created_at=timezone.now() - timedelta(days=9))
    Release.objects.filter(pk=moved_on.pk).update(state="preparation")
    change = approve(ChangeRequestFactory(services=[service, extra]), board)
    assert change.release == old
    assert set(old.services.all()) == {service, extra}
    assert Release.objects.count() == 3
    assert runs(RULE) == [("acted", f"{change.number} joined {old.number} “{old.name}”.")]


def test_standard_changes_are_not_planned(change_manager):
    from changes.models import StandardChangeTemplate

    template = StandardChangeTemplate.objects.create(name="Renew", testing_plan="t", rollback_plan="r")
    change = ChangeRequestFactory(change_type="standard", risk="low", template=template, requester=change_manager)
    change = change_services.change_transition(instance=change, name="submit", by=change_manager)
    assert change.state == "approved"
    assert not Release.objects.exists() and runs(RULE) == []


def test_an_emergency_change_is_planned_too(ops_manager):
    change = ChangeRequestFactory(change_type="emergency")
    change = change_services.change_transition(instance=change, name="submit", by=None)
    change_services.change_approve(change=change, by=ops_manager)
    assert ChangeRequest.objects.get(pk=change.pk).release is not None


def test_the_same_approval_handled_twice_acts_once(board):
    change = approve(ChangeRequestFactory(), board)
    events.publish(events.ChangeApproved(change_id=change.pk, at=change.approved_at))
    assert Release.objects.count() == 1
    outcomes = runs(RULE)
    assert [o for o, _ in outcomes] == ["acted", "skipped"]
    assert outcomes[1][1].startswith("Already handled by run #")


def test_a_change_already_in_a_release_is_skipped(board, release_manager):
    release = ReleaseFactory()
    change = ChangeRequestFactory()
    change = change_services.change_transition(instance=change, name="submit", by=None)
    ChangeRequest.objects.filter(pk=change.pk).update(release=release)
    for member in board.values():
        change_services.change_approve(change=change, by=member)
    assert runs(RULE) == [("skipped", f"{change.number} is already in {release.number}.")]
    assert Release.objects.count() == 1


def test_a_failing_rule_keeps_the_approval(board, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("release table unavailable")

    monkeypatch.setattr(release_services, "release_create", broken)
    change = approve(ChangeRequestFactory(), board)
    assert change.state == "approved" and change.release is None
    assert runs(RULE) == [("failed", "RuntimeError: release table unavailable")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_changes_approved_together_share_one_new_release():
    service = ServiceFactory()
    changes = [ChangeRequestFactory(services=[service]) for _ in range(3)]
    ChangeRequest.objects.filter(pk__in=[c.pk for c in changes]).update(state="approved", approved_at=timezone.now())
    calls = [lambda c=c: events.publish(events.ChangeApproved(change_id=c.pk)) for c in changes]
    assert run_together(*calls) == []
    assert Release.objects.count() == 1
    assert set(ChangeRequest.objects.values_list("release", flat=True)) == {Release.objects.get().pk}
