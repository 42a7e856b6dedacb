"""Recurring incidents → one draft change per cluster (SPEC §2, last paragraph)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from changes.models import ChangeRequest
from changes.services import attach_recurring_incident
from opsdesk.models import Notification, TransitionLog
from opsdesk.workflow import apply_transition
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(db):
    team = TeamFactory(name="Payments", email="payments@example.test", webhook_url="https://chat.example.test/hook")
    return ServiceFactory(name="Checkout", owner_team=team)


def incident_at(service, detected_at):
    """An incident as incident_create leaves it: saved, then offered to the recurring rule."""
    incident = IncidentFactory(service=service, detected_at=detected_at)
    return incident, attach_recurring_incident(incident=incident)


def test_third_incident_creates_one_draft(service):
    now = timezone.now()
    first, change = incident_at(service, now - timedelta(days=5))
    assert change is None
    second, change = incident_at(service, now - timedelta(days=2))
    assert change is None
    third, change = incident_at(service, now)
    assert change is not None
    assert change.state == "draft"
    assert change.change_type == "normal"
    assert change.title == "Recurring incidents on Checkout"
    assert change.requester == service.owner_team.lead
    assert change.implementer == service.owner_team
    assert list(change.services.all()) == [service]
    assert set(change.incidents.all()) == {first, second, third}
    assert ChangeRequest.objects.count() == 1
    assert TransitionLog.objects.get(object_id=change.pk, transition="create").user is None


def test_team_is_notified(service):
    now = timezone.now()
    for days in (3, 2):
        incident_at(service, now - timedelta(days=days))
    _, change = incident_at(service, now)
    recipients = set(Notification.objects.filter(object_id=change.pk).values_list("channel", "recipient"))
    assert recipients == {("email", "payments@example.test"), ("webhook", "https://chat.example.test/hook")}


def test_fourth_incident_attaches_to_the_draft(service):
    now = timezone.now()
    for days in (4, 3, 2):
        _, change = incident_at(service, now - timedelta(days=days))
    fourth, again = incident_at(service, now)
    assert again == change
    assert fourth in change.incidents.all()
    assert change.incidents.count() == 4
    assert ChangeRequest.objects.count() == 1


def test_cancelled_incidents_do_not_count(service):
    now = timezone.now()
    first, _ = incident_at(service, now - timedelta(days=2))
    apply_transition(instance=first, name="cancel", by=None, reason="duplicate")
    incident_at(service, now - timedelta(days=1))
    _, change = incident_at(service, now)
    assert change is None
    _, change = incident_at(service, now + timedelta(minutes=1))
    assert change is not None
    assert first not in change.incidents.all()
    assert change.incidents.count() == 3


def test_incidents_outside_the_window_do_not_count(service):
    now = timezone.now()
    incident_at(service, now - timedelta(days=7, minutes=1))
    incident_at(service, now - timedelta(days=3))
    _, change = incident_at(service, now)
    assert change is None
    assert not ChangeRequest.objects.exists()


def test_other_services_do_not_count(service):
    now = timezone.now()
    incident_at(ServiceFactory(), now - timedelta(days=1))
    incident_at(service, now - timedelta(days=1))
    _, change = incident_at(service, now)
    assert change is None


def test_a_submitted_draft_no_longer_collects(service, change_manager):
    from changes import services

    now = timezone.now()
    for days in (3, 2, 1):
        _, change = incident_at(service, now - timedelta(days=days))
    services.change_update(change=change, by=change_manager, testing_plan="t", rollback_plan="r",
                           planned_start=now + timedelta(days=1), planned_end=now + timedelta(days=1, hours=1))
    services.change_transition(instance=change, name="submit", by=change_manager)
    _, newer = incident_at(service, now)
    assert newer is not None and newer != change
    assert ChangeRequest.objects.count() == 2


def test_a_later_cluster_gets_its_own_draft(service):
    start = timezone.now() - timedelta(days=30)
    for days in (0, 1, 2):
        _, first = incident_at(service, start + timedelta(days=days))
    for days in (20, 21, 22):
        _, second = incident_at(service, start + timedelta(days=days))
    assert first is not None and second is not None and first != second
    assert first.incidents.count() == 3 and second.incidents.count() == 3


def test_thresholds_are_settings(service, settings):
    settings.OPSDESK_RECURRING_INCIDENT_COUNT = 2
    settings.OPSDESK_RECURRING_INCIDENT_DAYS = 1
    now = timezone.now()
    incident_at(service, now - timedelta(days=2))
    _, change = incident_at(service, now)
    assert change is None
    _, change = incident_at(service, now + timedelta(hours=1))
    assert change is not None and change.incidents.count() == 2


def test_requester_falls_back_to_a_superuser(service):
    service.owner_team.lead = None
    service.owner_team.save()
    admin = get_user_model().objects.create_superuser("root", "root@example.test", "pw")
    now = timezone.now()
    for minutes in (3, 2, 1):
        _, change = incident_at(service, now - timedelta(minutes=minutes))
    assert change.requester == admin


def test_without_any_requester_no_draft_is_made(service):
    service.owner_team.lead = None
    service.owner_team.save()
    now = timezone.now()
    for minutes in (3, 2, 1):
        _, change = incident_at(service, now - timedelta(minutes=minutes))
    assert change is None


def test_incident_create_calls_the_rule(service, service_desk_user):
    from incidents.services import incident_create

    now = timezone.now()
    for minutes in (30, 20, 10):
        incident = incident_create(by=service_desk_user, title="Checkout down", service=service, severity="medium",
                                   detected_at=now - timedelta(minutes=minutes))
    change = incident.changes.get()
    assert change.incidents.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_incidents_make_one_draft(role_groups):
    """Two incidents' rules running together, each seeing a third incident: one draft holding all four."""
    import threading

    from django.db import connection, transaction

    service = ServiceFactory()
    now = timezone.now()
    for days in (3, 2):
        incident_at(service, now - timedelta(days=days))
    barrier = threading.Barrier(2, timeout=10)
    errors = []

    # Both incidents are in; their rule runs at the same moment (incident_create's transactions).
    incidents = [IncidentFactory(service=service, detected_at=now - timedelta(minutes=m)) for m in (2, 1)]

    def arrive(incident):
        try:
            with transaction.atomic():
                barrier.wait()
                attach_recurring_incident(incident=incident)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(incident,)) for incident in incidents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    change = ChangeRequest.objects.get()
    assert change.incidents.count() == 4
