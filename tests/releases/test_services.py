"""Release services: deliverables, checks, deployments (a failure is published as an event),
changes joining a release, permissions and notifications."""

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
from releases.models import Deployment, Release, ReleaseCheck
from tests.factories import ChangeRequestFactory, IncidentFactory, ReleaseFactory, ServiceFactory, TeamFactory

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


def test_a_failed_deployment_publishes_its_event_once_per_save(release, release_manager, advance):
    """The releases app announces the failure; the incident is the automation rule's (tests/automation)."""
    from opsdesk import events

    release = advance(release, release_manager, to="implementation")
    seen = []
    events.subscribe(events.DeploymentFailed, seen.append)
    try:
        deployment = services.deployment_create(release=release, by=release_manager, environment="prod",
                                                started_at=timezone.now() - timedelta(minutes=3))
        assert seen == []
        services.deployment_update(deployment=deployment, by=release_manager, status="failed")
        services.deployment_update(deployment=deployment, by=release_manager, status="failed")  # saved again
    finally:
        events.unsubscribe(events.DeploymentFailed, seen.append)
    expected = (deployment.pk, release.pk, release_manager.pk)
    assert [(e.deployment_id, e.release_id, e.by_id) for e in seen] == [expected, expected]
    assert len({e.key for e in seen}) == 1  # one occurrence: the rule acts on it once


def test_deployment_link_incident_only_for_failed_deployments(release, release_manager, advance):
    release = advance(release, release_manager, to="implementation")
    now = timezone.now()
    running = services.deployment_create(release=release, by=release_manager, environment="prod",
                                         started_at=now - timedelta(minutes=3))
    incident = IncidentFactory()
    with pytest.raises(DomainValidationError, match="Only a failed deployment"):
        services.deployment_link_incident(deployment=running, incident=incident)
    failed = services.deployment_update(deployment=running, by=release_manager, status="failed")
    opened = Deployment.objects.get(pk=failed.pk).incident  # the rule's incident
    with pytest.raises(DomainValidationError, match="already opened"):
        services.deployment_link_incident(deployment=failed, incident=incident)
    assert services.deployment_link_incident(deployment=failed, incident=opened).incident == opened


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


# --- changes in a release ---------------------------------------------------------------


def test_release_add_change_takes_on_its_services_and_is_logged(release, release_manager):
    extra = ServiceFactory()
    change = _approved_change(*release.services.all(), extra)
    services.release_add_change(release=release, change=change, by=release_manager)
    change.refresh_from_db()
    assert change.release == release
    assert extra in release.services.all()
    entry = TransitionLog.objects.get(object_id=release.pk, transition="add_change")
    assert (entry.user, entry.comment) == (release_manager, f"{change.number} {change.title}")
    services.release_add_change(release=release, change=change, by=release_manager)  # again: nothing new
    assert TransitionLog.objects.filter(object_id=release.pk, transition="add_change").count() == 1


def test_release_add_change_refusals(release, release_manager, service_desk_user):
    draft = ChangeRequestFactory(services=list(release.services.all()))
    with pytest.raises(DomainValidationError, match="only approved changes"):
        services.release_add_change(release=release, change=draft, by=release_manager)
    approved = _approved_change(ServiceFactory())
    with pytest.raises(PermissionDenied):
        services.release_add_change(release=release, change=approved, by=service_desk_user)
    other = ReleaseFactory(services=[ServiceFactory()])
    services.release_add_change(release=other, change=approved, by=release_manager)
    with pytest.raises(DomainValidationError, match="already in another release"):
        services.release_add_change(release=release, change=approved, by=release_manager)
    Release.objects.filter(pk=release.pk).update(state="preparation")
    with pytest.raises(DomainValidationError, match="changes join releases in planning"):
        services.release_add_change(release=release, change=_approved_change(ServiceFactory()), by=release_manager)
    assert ChangeRequest.objects.filter(release=release).count() == 0
