"""Release services: deliverables, checks, deployments (failed → one incident),
approved change → release planning, permissions and notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from changes.models import ChangeRequest
from incidents.models import Incident
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError
from opsdesk.models import Notification, TransitionLog
from releases import services
from releases.models import Release, ReleaseCheck
from tests.factories import ChangeRequestFactory, ReleaseFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _approved_change(*services_, **kwargs):
    change = ChangeRequestFactory(services=list(services_), **kwargs)
    ChangeRequest.objects.filter(pk=change.pk).update(state="approved", approved_at=timezone.now())
    change.refresh_from_db()
    return change


# --- create / update -----------------------------------------------------------------


def test_release_create_starts_in_planning_with_the_creator_as_manager(release_manager):
    service = ServiceFactory()
    release = services.release_create(by=release_manager, name=" Spring ", version="2.0", services=[service])
    assert (release.state, release.name, release.release_manager) == ("planning", "Spring", release_manager)
    assert release.number == f"REL-{release.pk:06d}"
    assert list(release.services.all()) == [service]
    assert TransitionLog.objects.filter(object_id=release.pk, transition="create").count() == 1


def test_release_create_validates_name_services_and_manager(release_manager, service_desk_user):
    with pytest.raises(DomainValidationError) as caught:
        services.release_create(by=release_manager, name="", services=[], release_manager=service_desk_user)
    assert set(caught.value.errors) == {"name", "services", "release_manager"}


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.CHANGE_MANAGERS, Role.API_READERS])
def test_only_release_managers_create_and_move_releases(user_in_role, role, release):
    user = user_in_role(role)
    with pytest.raises(PermissionDenied):
        services.release_create(by=user, name="x", services=[ServiceFactory()])
    with pytest.raises(PermissionDenied):
        services.release_transition(instance=release, name="cancel", by=user)
    with pytest.raises(PermissionDenied):
        services.deliverable_add(release=release, by=user, kind="timeline", content="x")
    with pytest.raises(PermissionDenied):
        services.check_record(release=release, by=user, kind="security_assessment", passed=True)


def test_release_update_edits_open_releases_only(release, release_manager):
    other = ServiceFactory()
    updated = services.release_update(release=release, by=release_manager, name="Renamed", services=[other])
    assert updated.name == "Renamed"
    assert list(updated.services.all()) == [other]
    services.release_transition(instance=release, name="cancel", by=release_manager)
    with pytest.raises(DomainValidationError, match="cancelled"):
        services.release_update(release=release, by=release_manager, name="Again")


# --- deliverables and checks -------------------------------------------------------


def test_deliverable_needs_content_or_link(release, release_manager):
    with pytest.raises(DomainValidationError) as caught:
        services.deliverable_add(release=release, by=release_manager, kind="timeline", content="  ", link="")
    assert caught.value.errors == {"content": ["Give the deliverable's content or a link to it."]}
    with pytest.raises(DomainValidationError) as caught:
        services.deliverable_add(release=release, by=release_manager, kind="nonsense", content="x")
    assert list(caught.value.errors) == ["kind"]
    deliverable = services.deliverable_add(release=release, by=release_manager, kind="timeline",
                                           link="https://wiki.example.test/timeline")
    assert (deliverable.author, deliverable.kind, deliverable.content) == (release_manager, "timeline", "")


def test_recording_a_check_again_replaces_the_result(release, release_manager, user_in_role):
    services.check_record(release=release, by=release_manager, kind="security_assessment", passed=False,
                          note="weak TLS")
    other = user_in_role(Role.RELEASE_MANAGERS)
    services.check_record(release=release, by=other, kind="security_assessment", passed=True, note="fixed")
    check = ReleaseCheck.objects.get(release=release)
    assert (check.passed, check.note, check.checked_by) == (True, "fixed", other)


# --- deployments ---------------------------------------------------------------------


def test_deployments_only_during_implementation_and_verification(release, release_manager, advance):
    with pytest.raises(DomainValidationError, match="planning"):
        services.deployment_create(release=release, by=release_manager, environment="prod")
    release = advance(release, release_manager, to="implementation")
    deployment = services.deployment_create(release=release, by=release_manager, environment="prod")
    assert (deployment.status, deployment.finished_at, deployment.deployed_by) == ("running", None, release_manager)


def test_deployment_validation(release, release_manager, advance):
    release = advance(release, release_manager, to="implementation")
    now = timezone.now()
    cases = [
        ({"environment": "", "status": "running"}, "environment"),
        ({"environment": "prod", "status": "succeeded"}, "finished_at"),
        ({"environment": "prod", "status": "running", "finished_at": now}, "finished_at"),
        ({"environment": "prod", "status": "failed", "started_at": now - timedelta(minutes=1),
          "finished_at": now - timedelta(minutes=2)}, "finished_at"),
        ({"environment": "prod", "status": "running", "started_at": now + timedelta(hours=1)}, "started_at"),
        ({"environment": "prod", "status": "exploded"}, "status"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainValidationError) as caught:
            services.deployment_create(release=release, by=release_manager, **kwargs)
        assert field in caught.value.errors, kwargs


def test_failed_deployment_opens_one_high_incident_on_the_first_service(release_manager, advance):
    first, second = ServiceFactory(), ServiceFactory()
    release = ReleaseFactory(release_manager=release_manager, services=[second, first])
    release = advance(release, release_manager, to="implementation")
    deployment = services.deployment_create(release=release, by=release_manager, environment="production",
                                            started_at=timezone.now() - timedelta(minutes=3))
    assert Incident.objects.count() == 0
    deployment = services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    incident = Incident.objects.get()
    assert deployment.incident == incident
    assert (incident.severity, incident.caused_by_release, incident.service, incident.reporter) == (
        "high", release, min(first, second, key=lambda s: s.pk), None,
    )
    assert incident.title == f"Deployment of {release.number} to production failed"
    assert incident.detected_at == deployment.finished_at
    # Saving the failed status again changes nothing and opens no second incident.
    again = services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    assert again.incident_id == incident.pk
    assert Incident.objects.count() == 1


def test_deployment_created_failed_opens_its_incident_once(release, release_manager, advance):
    release = advance(release, release_manager, to="implementation")
    now = timezone.now()
    deployment = services.deployment_create(
        release=release, by=release_manager, environment="eu-prod", status="failed",
        started_at=now - timedelta(minutes=9), finished_at=now - timedelta(minutes=1),
    )
    services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    assert Incident.objects.filter(caused_by_release=release).count() == 1
    assert Incident.objects.get().detected_at == now - timedelta(minutes=1)


def test_succeeded_deployment_opens_no_incident_and_keeps_its_status(release, release_manager, advance):
    release = advance(release, release_manager, to="implementation")
    deployment = services.deployment_create(release=release, by=release_manager, environment="prod",
                                            started_at=timezone.now() - timedelta(minutes=1))
    deployment = services.deployment_update(deployment=deployment, by=release_manager, status="succeeded")
    assert (deployment.status, deployment.incident) == ("succeeded", None)
    assert deployment.finished_at is not None
    with pytest.raises(DomainValidationError, match="already succeeded"):
        services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    assert Incident.objects.count() == 0


# --- notifications -------------------------------------------------------------------


def test_transitions_and_deployments_notify_manager_and_teams(release_manager, satisfy):
    team = TeamFactory(email="payments@example.test")
    release = ReleaseFactory(release_manager=release_manager, services=[ServiceFactory(owner_team=team)])
    satisfy(release, "prepare", release_manager)
    services.release_transition(instance=release, name="prepare", by=release_manager)
    rows = Notification.objects.filter(subject__contains=release.number)
    assert sorted(rows.values_list("recipient", flat=True)) == sorted([release_manager.email, team.email])
    assert all("preparation" in row.subject for row in rows)


# --- approved change → release ----------------------------------------------------------


def test_approved_change_creates_a_planning_release_once():
    service = ServiceFactory()
    change = _approved_change(service)
    release = services.release_for_approved_change(change=change)
    assert (release.state, release.name, release.release_manager) == ("planning", f"Release for {change.number}",
                                                                       None)
    assert list(release.services.all()) == [service]
    change.refresh_from_db()
    assert change.release == release
    assert services.release_for_approved_change(change=change) == release
    assert Release.objects.count() == 1


def test_approved_change_joins_the_oldest_planning_release_of_its_service(release_manager):
    service, extra = ServiceFactory(), ServiceFactory()
    old = ReleaseFactory(services=[service], created_at=timezone.now() - timedelta(days=3))
    ReleaseFactory(services=[service])  # newer
    moved_on = ReleaseFactory(services=[service], created_at=timezone.now() - timedelta(days=9))
    services.deliverable_add(release=moved_on, by=release_manager, kind="release_plan", content="x")
    services.deliverable_add(release=moved_on, by=release_manager, kind="timeline", content="x")
    services.deliverable_add(release=moved_on, by=release_manager, kind="resource_plan", content="x")
    services.release_transition(instance=moved_on, name="prepare", by=release_manager)
    change = _approved_change(service, extra)
    assert services.release_for_approved_change(change=change) == old
    assert set(old.services.all()) == {service, extra}
    assert Release.objects.count() == 3


def test_approved_change_on_another_service_gets_its_own_release():
    ReleaseFactory(services=[ServiceFactory()])
    change = _approved_change(ServiceFactory())
    release = services.release_for_approved_change(change=change)
    assert release.name == f"Release for {change.number}"
    assert Release.objects.count() == 2


def test_a_change_that_is_not_approved_joins_no_release():
    change = ChangeRequestFactory()
    with pytest.raises(DomainValidationError, match="only approved changes"):
        services.release_for_approved_change(change=change)
    assert Release.objects.count() == 0


def test_a_new_release_for_a_change_tells_the_release_managers(release_manager):
    change = _approved_change(ServiceFactory())
    release = services.release_for_approved_change(change=change)
    rows = Notification.objects.filter(subject=f"{release.number} created for approved change {change.number}")
    assert release_manager.email in set(rows.values_list("recipient", flat=True))
    services.release_for_approved_change(change=change)  # once
    assert Notification.objects.filter(subject__startswith=f"{release.number} created").count() == rows.count()
