"""One delivery takes a bounded number of SQL statements: the same for 10 alerts as for 50, growing
only with the number of groups (each group is one incident's work)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident

from .test_ingest import firing_payload, resolved_payload

pytestmark = pytest.mark.django_db

# Pinned: a change that makes these grow should be a decision, not an accident.
OPEN_GROUP = 52  # auth, rate limit, alerts, the rule: one incident opened (SLA, notifications, log, run,
# and 4 for its checklist: the template read, the steps inserted, the team's notification seen, …)
REPEAT = 12  # alerts already firing: last_seen only, no rule
RESOLVE_GROUP = 54  # alerts resolved: a note, the incident resolved by the system (+3: the steps it shows), the run


def fingerprints(n: int, prefix: str = "a") -> tuple[str, ...]:
    return tuple(f"{prefix}{i:03d}" for i in range(n))


def measure(clock, send, token, slug, n):
    def post(body):
        with CaptureQueriesContext(connection) as queries:
            response = send(slug, token, body)
        assert response.status_code == 202, response.content
        return len(queries)

    opened = post(firing_payload("g1", fingerprints(n)))
    clock.shift(timedelta(seconds=1))
    repeat = post(firing_payload("g1", fingerprints(n)))
    clock.shift(timedelta(seconds=1))
    resolved = post(resolved_payload("g1", fingerprints(n)))
    return opened, repeat, resolved


@pytest.fixture(autouse=True)
def _warm(clock, make_source, service, send):
    """One delivery first, so Django's content-type cache is filled for every measurement alike."""
    _, token = make_source("alertmanager", slug="warm-up", name="Warm-up")
    send("warm-up", token, firing_payload("warm", ("w1",)))
    send("warm-up", token, resolved_payload("warm", ("w1",)))


def test_fifty_alerts_take_as_many_statements_as_ten(clock, make_source, service, send):
    _, token10 = make_source("alertmanager", slug="am10", name="AM 10")
    _, token50 = make_source("alertmanager", slug="am50", name="AM 50")
    ten = measure(clock, send, token10, "am10", 10)
    fifty = measure(clock, send, token50, "am50", 50)
    assert fifty == ten
    assert ten == (OPEN_GROUP, REPEAT, RESOLVE_GROUP)
    assert Incident.objects.filter(state="resolved").count() == 3


def test_statements_grow_with_groups_not_with_alerts(clock, make_source, service, send):
    """A generic delivery of 50 alerts in 5 groups costs 5 incidents' work, like 10 alerts in 5 groups."""
    _, token = make_source("generic")

    def post(n_per_group, prefix):
        body = {"alerts": [
            {"fingerprint": f"{prefix}-{g}-{i}", "title": f"Group {g} alert {i}", "group": f"{prefix}-{g}"}
            for g in range(5) for i in range(n_per_group)
        ]}
        with CaptureQueriesContext(connection) as queries:
            assert send("generic", token, body).status_code == 202
        return len(queries)

    post(1, "warm")  # this source's first delivery
    assert post(2, "small") == post(10, "large")
    assert Incident.objects.count() == 16
