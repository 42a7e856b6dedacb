"""``failed_deployment_to_incident``: a failed deployment opens exactly one incident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation import services as automation_services
from automation.models import AutomationRule
from incidents.models import Incident
from opsdesk.exceptions import DomainValidationError
from releases import services
from releases.models import Deployment
from tests.factories import ReleaseFactory, ServiceFactory

from .conftest import run_together, runs

pytestmark = pytest.mark.django_db

RULE = "failed_deployment_to_incident"


@pytest.fixture
def implementing(release_manager, advance):
    """A release in implementation on two services (the first by id is where incidents go)."""
    first, second = ServiceFactory(name="Web"), ServiceFactory(name="Database")
    release = ReleaseFactory(release_manager=release_manager, services=[second, first])
    return advance(release, release_manager, to="implementation"), first


def test_a_failed_deployment_opens_one_high_incident_on_the_first_service(implementing, release_manager):
    release, first = implementing
    deployment = services.deployment_create(release=release, by=release_manager, environment="production",
                                            started_at=timezone.now() - timedelta(minutes=3))
    assert not Incident.objects.exists()
    deployment = services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    incident = Incident.objects.get()
    assert Deployment.objects.get(pk=deployment.pk).incident == incident
    assert (incident.severity, incident.caused_by_release, incident.service, incident.reporter) == (
        "high", release, first, None,
    )
    assert (incident.title, incident.created_by_rule) == (f"Deployment of {release.number} to production failed", RULE)
    assert incident.detected_at == incident.started_at == deployment.finished_at
    assert runs(RULE) == [(
        "acted", f"Opened {incident.number} (high) on Web for the failed deployment of {release.number} to production.",
    )]
    # Saved failed again: the rule finds the incident and opens no second one.
    services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    assert Incident.objects.count() == 1
    assert [outcome for outcome, _ in runs(RULE)] == ["acted", "skipped"]


def test_the_deployment_notification_names_the_incident(implementing, release_manager):
    release, _ = implementing
    now = timezone.now()
    deployment = services.deployment_create(release=release, by=release_manager, environment="eu", status="failed",
                                            started_at=now - timedelta(minutes=9), finished_at=now)
    incident = Incident.objects.get()
    from opsdesk.models import Notification

    body = Notification.objects.filter(subject=f"{release.number} deployment to eu failed").first().body
    assert f"Incident {incident.number} was opened for the failure." in body
    assert deployment.pk


def test_the_severity_is_a_param(implementing, release_manager):
    release, _ = implementing
    rule = AutomationRule.objects.get(key=RULE)
    automation_services.rule_update(rule=rule, by=None, params={"severity": "critical"})
    now = timezone.now()
    services.deployment_create(release=release, by=release_manager, environment="eu", status="failed",
                               started_at=now - timedelta(minutes=9), finished_at=now)
    assert Incident.objects.get().severity == "critical"


def test_a_succeeded_deployment_opens_nothing(implementing, release_manager):
    release, _ = implementing
    now = timezone.now()
    services.deployment_create(release=release, by=release_manager, environment="eu", status="succeeded",
                               started_at=now - timedelta(minutes=9), finished_at=now)
    assert not Incident.objects.exists() and runs(RULE) == []


def test_a_failing_rule_keeps_the_deployment_and_a_later_save_retries(implementing, release_manager, monkeypatch):
    """The rule fails (here: incident creation breaks); the failed deployment is still recorded."""
    from incidents import services as incident_services

    release, _ = implementing
    real = incident_services.incident_create

    def broken(**kwargs):
        raise DomainValidationError({"service": "The service is archived."})

    monkeypatch.setattr(incident_services, "incident_create", broken)
    now = timezone.now()
    deployment = services.deployment_create(release=release, by=release_manager, environment="eu",
                                            status="failed", started_at=now - timedelta(minutes=9), finished_at=now)
    assert Deployment.objects.get(pk=deployment.pk).status == "failed"
    assert not Incident.objects.exists()
    assert runs(RULE) == [("failed", "service: The service is archived.")]
    monkeypatch.setattr(incident_services, "incident_create", real)
    services.deployment_update(deployment=deployment, by=release_manager, status="failed")
    assert Incident.objects.count() == 1
    assert [outcome for outcome, _ in runs(RULE)] == ["failed", "acted"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failure_saved_three_times_at_once_opens_one_incident(release_manager, satisfy):
    release = ReleaseFactory(release_manager=release_manager)
    for gate in ("prepare", "implement"):
        satisfy(release, gate, release_manager)
        release = services.release_transition(instance=release, name=gate, by=release_manager)
    deployment = services.deployment_create(release=release, by=release_manager, environment="prod",
                                            started_at=timezone.now() - timedelta(minutes=2))

    def fail():
        services.deployment_update(deployment=deployment, by=release_manager, status="failed")

    assert run_together(fail, fail, fail) == []
    assert Incident.objects.filter(caused_by_release=release).count() == 1
    assert Deployment.objects.get(pk=deployment.pk).incident_id == Incident.objects.get().pk
    assert sorted(outcome for outcome, _ in runs(RULE)) == ["acted", "skipped", "skipped"]
