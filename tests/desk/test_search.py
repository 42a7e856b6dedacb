"""Word search of the lists (the FilterSets' ``q``) and the global search: on SQLite the
portable fallback, on PostgreSQL full-text search (the same tests run on both backends)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from changes.filtersets import ChangeRequestFilterSet
from incidents import services as incident_services
from incidents.filtersets import IncidentFilterSet
from incidents.models import Incident
from opsdesk.choices import Role
from opsdesk.search import parse_record_number
from releases.filtersets import ReleaseFilterSet
from tests.factories import ChangeRequestFactory, IncidentFactory, ReleaseFactory, UserFactory


def numbers(filterset_class, q, queryset=None):
    model = filterset_class._meta.model
    found = filterset_class({"q": q}, queryset=queryset if queryset is not None else model.objects.all()).qs
    return [row.number for row in found.order_by("-search_rank", "pk")]


@pytest.fixture
def timeouts(db):
    return IncidentFactory(title="Payments API timeouts at checkout", description="Card payments fail after 30 s.")


@pytest.fixture
def others(db):
    return [IncidentFactory(title="Login page slow"), IncidentFactory(title="Payments dashboard blank")]


def test_every_word_matches_in_any_order_and_case(timeouts, others):
    assert numbers(IncidentFilterSet, "payments timeouts") == [timeouts.number]
    assert numbers(IncidentFilterSet, "TIMEOUTS payments") == [timeouts.number]
    assert numbers(IncidentFilterSet, "checkout card") == [timeouts.number]  # title and description


def test_a_word_that_matches_nothing_finds_nothing(timeouts, others):
    assert numbers(IncidentFilterSet, "payments printer") == []


def test_one_word_finds_every_record_holding_it_best_first(timeouts, others):
    found = numbers(IncidentFilterSet, "payments")
    assert set(found) == {timeouts.number, others[1].number}


def test_work_notes_are_searched(timeouts, others):
    incident = others[0]
    incident_services.incident_add_note(incident=incident, by=UserFactory(roles=[Role.SERVICE_DESK]),
                                        body="Root cause: exhausted database connection pool")
    assert numbers(IncidentFilterSet, "connection pool") == [incident.number]


@pytest.mark.parametrize("typed", ["{number}", "{lower}", "INC-{n}", "inc{n}", " INC-{n} "])
def test_a_record_number_finds_its_record(timeouts, others, typed):
    n = timeouts.pk
    value = typed.format(number=timeouts.number, lower=timeouts.number.lower(), n=n)
    assert numbers(IncidentFilterSet, value)[0] == timeouts.number


def test_parse_record_number():
    assert parse_record_number("chg-000042") == ("CHG", 42)
    assert parse_record_number("REL7") == ("REL", 7)
    assert parse_record_number("INC-12 extra") is None
    assert parse_record_number("payments") is None


def test_changes_and_releases_are_searched_too(db):
    change = ChangeRequestFactory(title="Rotate TLS certificates", description="Before they expire on Friday.")
    ChangeRequestFactory(title="Upgrade database")
    release = ReleaseFactory(name="Payments spring release", version="4.2.0")
    ReleaseFactory(name="Mobile app")
    assert numbers(ChangeRequestFilterSet, "certificates friday") == [change.number]
    assert numbers(ReleaseFilterSet, "spring payments") == [release.number]
    assert numbers(ReleaseFilterSet, release.number.lower()) == [release.number]


def test_the_queue_and_the_api_share_the_search(client, api_client, timeouts, others, desk):
    client.force_login(desk)
    page = client.get(reverse("incidents:list"), {"q": "payments timeouts"})
    assert page.status_code == 200
    assert timeouts.number in page.content.decode()
    assert others[1].number not in page.content.decode()
    answer = api_client(desk).get("/api/v1/incidents/", {"q": "payments timeouts"})
    assert [row["number"] for row in answer.json()["results"]] == [timeouts.number]


def test_the_change_and_release_lists_search(client, db):
    change = ChangeRequestFactory(title="Rotate TLS certificates")
    release = ReleaseFactory(name="Payments spring release")
    reader = UserFactory(roles=[Role.CHANGE_MANAGERS])
    client.force_login(reader)
    page = client.get(reverse("changes:list"), {"q": "tls rotate"}).content.decode()
    assert change.number in page
    page = client.get(reverse("releases:list"), {"q": "spring"}).content.decode()
    assert release.number in page


def test_confidential_incidents_are_not_found_by_outsiders(confidential, outsider, security_team):
    visible = Incident.objects.all()
    assert numbers(IncidentFilterSet, "credential leak", visible) == [confidential.number]
    from incidents.selectors import incidents_visible_to

    assert numbers(IncidentFilterSet, "credential leak", incidents_visible_to(outsider)) == []
    member = security_team.members.get()
    assert numbers(IncidentFilterSet, "credential leak", incidents_visible_to(member)) == [confidential.number]


@pytest.mark.postgres
def test_postgres_uses_full_text_search_with_its_gin_index(timeouts):
    """Stemming ("timeout" finds "timeouts") and the GIN expression index serve the query."""
    assert numbers(IncidentFilterSet, "payment timeout") == [timeouts.number]
    qs = IncidentFilterSet({"q": "payment timeout"}, queryset=Incident.objects.all()).qs
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = qs.explain()
        cursor.execute("SET enable_seqscan = on")
    assert "incident_search" in plan
    assert "incident_note_search" in plan
