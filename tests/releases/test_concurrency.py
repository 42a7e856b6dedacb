"""Row locks under real concurrency (PostgreSQL): a failure saved twice at once opens one
incident; two changes approved at once on one service share one new release."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from changes.models import ChangeRequest
from incidents.models import Incident
from releases import services
from releases.models import Release
from tests.factories import ChangeRequestFactory, ReleaseFactory, ServiceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_together(*calls):
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait()
            call()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_failure_saved_twice_concurrently_opens_one_incident(release_manager, satisfy):
    release = ReleaseFactory(release_manager=release_manager)
    for gate in ("prepare", "implement"):
        satisfy(release, gate, release_manager)
        release = services.release_transition(instance=release, name=gate, by=release_manager)
    deployment = services.deployment_create(release=release, by=release_manager, environment="prod",
                                            started_at=timezone.now() - timedelta(minutes=2))

    def fail():
        services.deployment_update(deployment=deployment, by=release_manager, status="failed")

    assert _run_together(fail, fail, fail) == []
    assert Incident.objects.filter(caused_by_release=release).count() == 1
    deployment.refresh_from_db()
    assert deployment.incident_id == Incident.objects.get().pk


def test_changes_approved_together_share_one_new_release():
    service = ServiceFactory()
    changes = [ChangeRequestFactory(services=[service]) for _ in range(3)]
    ChangeRequest.objects.filter(pk__in=[c.pk for c in changes]).update(state="approved")
    calls = [lambda c=c: services.release_for_approved_change(change=c) for c in changes]
    assert _run_together(*calls) == []
    assert Release.objects.count() == 1
    assert set(ChangeRequest.objects.values_list("release", flat=True)) == {Release.objects.get().pk}
