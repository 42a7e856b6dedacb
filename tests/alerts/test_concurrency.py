"""Two deliveries of one new group at the same moment open one incident (PostgreSQL: real row locks)."""

from __future__ import annotations

import pytest

from alerts import services
from alerts.models import Alert, AlertSource
from incidents.models import Incident
from tests.automation.conftest import run_together

from .test_ingest import firing_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_deliveries_of_a_new_group_at_once_open_one_incident(make_source, service, rules_off):
    rules_off("auto_assign", "recurring_incidents_to_change")
    source, _ = make_source("alertmanager")

    def deliver(fingerprints):
        return lambda: services.alert_ingest(source=AlertSource.objects.get(pk=source.pk),
                                             payload=firing_payload("storm", fingerprints))

    errors = run_together(*(deliver((f"a{n}", f"b{n}")) for n in range(4)))
    assert errors == []
    assert Incident.objects.count() == 1
    assert Alert.objects.filter(incident=Incident.objects.get()).count() == 8


def test_the_same_new_alert_twice_at_once_is_stored_once(make_source, service, rules_off):
    rules_off("auto_assign", "recurring_incidents_to_change")
    source, _ = make_source("alertmanager")
    errors = run_together(*(
        lambda: services.alert_ingest(source=AlertSource.objects.get(pk=source.pk), payload=firing_payload())
        for _ in range(3)
    ))
    assert errors == []
    assert Alert.objects.count() == 1 and Incident.objects.count() == 1


def test_the_rate_limit_holds_for_requests_at_the_same_moment(make_source, service):
    source, _ = make_source("alertmanager", rate_limit_per_minute=3)
    answers = []
    errors = run_together(*(lambda: answers.append(services.claim_delivery(source)) for _ in range(8)))
    assert errors == []
    assert answers.count(None) == 3 and len(answers) == 8
