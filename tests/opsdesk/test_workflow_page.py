"""Available transitions computed per page give what each row computes alone."""

from __future__ import annotations

import pytest

from incidents import services
from incidents.models import Incident
from opsdesk.choices import Role
from tests.factories import IncidentFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.INCIDENT_MANAGERS, Role.SERVICE_DESK, Role.API_READERS])
def test_a_page_of_incidents_gets_the_transitions_of_each_row(role):
    user = UserFactory(roles=[role])
    service = ServiceFactory()
    for state in ("detected", "responding", "on_hold", "resolved", "closed", "cancelled"):
        pks = [incident.pk for incident in IncidentFactory.create_batch(2, service=service)]
        Incident.objects.filter(pk__in=pks).update(state=state)
    resolved = services.incident_create(by=None, title="Down", service=service, severity="low")
    Incident.objects.filter(pk=resolved.pk).update(state="resolved")  # required steps pending: close is gated
    page: dict = {}
    rows = list(Incident.objects.all())
    assert [row.available_transitions_for(user, page) for row in rows] == [
        row.available_transitions_for(user) for row in rows
    ]
    assert len(page) == 6  # one entry per state
