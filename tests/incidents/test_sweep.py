"""The set-based SLA sweep (``incidents.sweep``): statements that do not grow with the crossings, the
same outbox rows as the per-incident path, the rollups' stale days."""

from __future__ import annotations

import operator
from datetime import timedelta
from functools import reduce

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import notify, services, sla, sweep
from incidents.choices import OPEN_STATES, SLAClockName
from incidents.models import Incident
from metrics.models import StaleDay
from opsdesk.models import Notification, TransitionLog
from tests.factories import ServiceFactory, TeamFactory, UserFactory

from .conftest import T0

pytestmark = pytest.mark.django_db

SWEPT_AT = T0 + timedelta(hours=25)  # past both deadlines of every severity


@pytest.fixture
def other_service(db):
    """A second team (no webhook, no team address), so the recipients differ per team."""
    team = TeamFactory(name="Storage", email="", lead=UserFactory(username="slead", email="slead@example.test"),
                       members=[UserFactory(username="s1", email="s1@example.test")], webhook_url="")
    return ServiceFactory(name="Storage", slug="storage", owner_team=team)


def make_crossings(count: int, service, other_service, team) -> list[Incident]:
    """``count`` incidents of every kind the sweep tells apart: the notification levels (critical:
    immediate, high: urgent, medium: standard, low: routine), both teams, confidential, assigned,
    escalated by hand to the top tier already, resolved late (flagged, not announced)."""
    assignee = team.members.get(username="member2")
    made = []
    for i in range(count):
        kind = i % 6
        made.append(services.incident_create(
            by=None, title=f"Down {i}", severity=["critical", "high", "medium", "low", "high", "critical"][kind],
            service=other_service if kind == 4 else service, confidential=kind == 1,
            assignee=assignee if kind == 2 else None,
        ))
    top = made[-1]
    Incident.objects.filter(pk=top.pk).update(escalation_level=notify.MAX_ESCALATION_LEVEL)
    late = services.incident_create(by=None, title="Resolved late", severity="critical", service=service)
    Incident.objects.filter(pk=late.pk).update(state="resolved", resolved_at=T0 + timedelta(hours=6),
                                               acknowledged_at=T0 + timedelta(hours=5))
    Notification.objects.all().delete()
    return [*made, late]


def outbox() -> list[tuple]:
    return sorted(Notification.objects.values_list(
        "object_id", "channel", "recipient", "subject", "body", "queue", "dedupe_key", "content_type_id", "status",
    ))


def escalations() -> list[tuple]:
    return sorted(TransitionLog.objects.filter(transition="escalate").values_list(
        "object_id", "object_number", "from_state", "to_state", "comment", "user_id", "content_type_id", "timestamp",
    ))


def swept_statements(count: int, service, other_service, team) -> list[str]:
    """The statements of one sweep over ``count + 1`` crossings of each clock (``make_crossings``)."""
    Incident.objects.all().delete()
    made = make_crossings(count, service, other_service, team)
    with CaptureQueriesContext(connection) as captured:
        done = services.sla_sweep(SWEPT_AT)
    assert (done["response_breached"], done["resolution_breached"]) == (count + 1, count + 1)
    assert Notification.objects.filter(object_id__in=[i.pk for i in made]).count() > 6 * count
    return [query["sql"] for query in captured.captured_queries]


# One sweep that finds breaches of both clocks: per clock one batch of 13 statements (the claim that
# escalates too, the stale days, the incidents, their teams, services and assignees, the four
# recipient reads, the log entries, the outbox rows, the checklist tick; SQLite escalates in an UPDATE
# of its own: 14), then the two warning claims and the process sweep's three reads.
SWEEP_STATEMENTS = {"postgresql": 31, "sqlite": 33}


def test_statements_are_the_same_for_n_and_ten_times_n_crossings(clock, service, other_service, team, managers):
    counts = [len(swept_statements(count, service, other_service, team)) for count in (3, 30)]
    assert counts == [SWEEP_STATEMENTS[connection.vendor]] * 2


def test_a_full_batch_is_one_batch_and_one_more_crossing_another(clock, service, other_service, team, managers,
                                                                 monkeypatch):
    """A batch reads one candidate more than it claims: exactly ``BATCH`` crossings are swept in
    as many statements as fewer (no second round that finds nothing); one more takes a second
    batch of each clock, the same statements once more."""
    monkeypatch.setattr(sweep, "BATCH", 14)
    fewer = swept_statements(6, service, other_service, team)  # 7 crossings per clock, of every kind
    full = swept_statements(13, service, other_service, team)  # 14: exactly one batch
    more = swept_statements(14, service, other_service, team)  # 15: a second batch of one
    assert len(full) == len(fewer) == SWEEP_STATEMENTS[connection.vendor]

    def claims(statements):  # per clock and batch, and per warning clock
        return sum(sql.startswith("WITH candidates") for sql in statements)

    assert (claims(fewer), claims(full), claims(more)) == (4, 4, 6)
    assert len(more) > len(full)


def per_incident_sweep(now) -> None:
    """The sweep, one incident after the other, through the per-incident services (``notify_event``,
    the manual escalation's ``_escalate``): the path the set-based sweep replaces."""
    arms = {SLAClockName.RESPONSE: services.response_breach_arms(now),
            SLAClockName.RESOLUTION: services.resolution_breach_arms(now)}
    for clock, clock_arms in arms.items():
        names = sla.clock_fields(clock)
        for incident in reduce(operator.or_, clock_arms).order_by(names.due, "pk"):
            Incident.objects.filter(pk=incident.pk).update(**{names.breached: True})
            if incident.state not in OPEN_STATES:
                continue
            due = getattr(incident, names.due)
            notify.notify_event(incident, event="breach", headline=f"{SLAClockName(clock).label} SLA breached",
                                key=f"{clock}-breach")
            services._escalate(incident, by=None, reason=f"{clock} SLA breached at {due:%Y-%m-%d %H:%M %Z}", at=now)


def test_the_batch_writes_the_rows_the_per_incident_path_writes(clock, service, other_service, team, managers):
    make_crossings(12, service, other_service, team)
    clock.move_to(SWEPT_AT)
    with transaction.atomic():
        services.sla_sweep(SWEPT_AT)
        batch, batch_log = outbox(), escalations()
        transaction.set_rollback(True)
    assert not Notification.objects.exists()
    with transaction.atomic():
        per_incident_sweep(SWEPT_AT)
        one_by_one, one_by_one_log = outbox(), escalations()
        transaction.set_rollback(True)
    assert len(batch) > 100
    assert batch == one_by_one
    assert batch_log == one_by_one_log
    # Some rows of each kind, so that equal lists say something.
    channels = {row[1] for row in batch}
    assert channels == {"email", "webhook"}
    assert any(":escalation:" in row[6] for row in batch) and any("-breach|" in row[6] for row in batch)


def test_the_sweep_marks_the_days_of_its_breaches_stale(clock, service):
    clock.move_to(T0 + timedelta(days=3))
    detected = [T0 - timedelta(days=2), T0 - timedelta(days=2, hours=1), T0 + timedelta(days=1)]
    made = [services.incident_create(by=None, title="Old", severity="low", service=service, detected_at=at)
            for at in detected]
    untouched = services.incident_create(by=None, title="Flagged already", severity="low", service=service,
                                         detected_at=T0 - timedelta(days=5))
    Incident.objects.filter(pk=untouched.pk).update(response_breached=True, resolution_breached=True)
    StaleDay.objects.all().delete()
    done = services.sla_sweep()
    assert done["response_breached"] == 3
    assert set(StaleDay.objects.values_list("day", flat=True)) == {
        timezone.localdate(incident.detected_at) for incident in made
    }
    assert timezone.localdate(untouched.detected_at) not in set(StaleDay.objects.values_list("day", flat=True))
