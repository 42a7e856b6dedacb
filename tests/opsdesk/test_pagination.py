"""The API's pagination (``opsdesk.api.pagination``): keyset cursors in next / previous links,
counts exact up to ``COUNT_CAP`` rows, deep ``?page=`` in one query, DRF's 404 past the end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident
from opsdesk.models import Service
from opsdesk.pagination import COUNT_CAP, Keyset, cheap_count, page_of
from tests.factories import IncidentFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"
SERVICES = "/api/v1/services/"


@pytest.fixture
def client(api_client):
    return api_client(UserFactory(is_superuser=True))


@pytest.fixture
def incidents(db) -> list[int]:
    """23 incidents, newest first as the list orders them; detected in threes at the same instant,
    so that the id breaks the ties."""
    service = ServiceFactory()
    base = timezone.now() - timedelta(days=1)
    made = [IncidentFactory(service=service, detected_at=base + timedelta(minutes=n // 3)) for n in range(23)]
    return [i.pk for i in sorted(made, key=lambda i: (i.detected_at, i.pk), reverse=True)]


def walk(client, url, link="next") -> list[list[int]]:
    """The ids of each page from ``url`` on, following ``link`` until it is null."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        url = body[link]
    return pages


def test_next_links_walk_the_whole_list_in_order_with_cursors(client, incidents):
    pages = walk(client, f"{INCIDENTS}?page_size=5")
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [pk for page in pages for pk in page] == incidents
    second = client.get(f"{INCIDENTS}?page_size=5").json()["next"]
    assert "cursor=" in second and "&page=" not in second and "?page=" not in second


def test_previous_links_walk_back_to_the_first_page(client, incidents):
    last_url = f"{INCIDENTS}?page_size=5"
    while (following := client.get(last_url).json()["next"]) is not None:
        last_url = following
    back = walk(client, last_url, link="previous")
    assert [pk for page in reversed(back) for pk in page] == incidents
    assert back[-1] == incidents[:5]
    assert client.get(last_url).json()["next"] is None


def test_cursors_skip_and_repeat_nothing_when_rows_are_added_meanwhile(client, incidents):
    first = client.get(f"{INCIDENTS}?page_size=5").json()
    assert [row["id"] for row in first["results"]] == incidents[:5]
    newest = IncidentFactory()  # now: newer than every row, so it lands on the page already read
    rest = walk(client, first["next"])
    assert [pk for page in rest for pk in page] == incidents[5:]
    assert newest.pk not in {pk for page in rest for pk in page}
    # An offset page would have repeated the last row of the first page instead.
    assert client.get(f"{INCIDENTS}?page_size=5&page=2").json()["results"][0]["id"] == incidents[4]


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        ("not-a-cursor", "Not a cursor of this list."),
        ("eyJvIjpbIm5hbWUiLCJpZCJdLCJ2IjpbIngiLDFdLCJiIjpmYWxzZX0", "The cursor belongs to another ordering."),
    ],
)
def test_a_bad_cursor_is_a_400_naming_the_parameter(client, incidents, cursor, message):
    response = client.get(INCIDENTS, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": [message]}


def test_a_cursor_on_an_ordering_it_cannot_follow_is_a_400(client, incidents):
    cursor = client.get(f"{INCIDENTS}?page_size=5").json()["next"].split("cursor=")[1]
    response = client.get(INCIDENTS, {"cursor": cursor, "ordering": "severity"})  # severity's rank: no cursor
    assert response.status_code == 400
    assert response.json() == {"cursor": ["This ordering pages by number: use page."]}
    # That ordering's links carry page numbers instead.
    assert "page=2" in client.get(INCIDENTS, {"ordering": "severity", "page_size": 5}).json()["next"]


def test_a_deep_page_is_the_rows_at_its_offset(client, incidents):
    response = client.get(INCIDENTS, {"page_size": 3, "page": 6})
    assert [row["id"] for row in response.json()["results"]] == incidents[15:18]
    queryset = Incident.objects.order_by("-detected_at", "-id")
    assert [row.pk for row in page_of(queryset, 15, 3)] == list(queryset.values_list("pk", flat=True)[15:18])
    with CaptureQueriesContext(connection) as captured:
        page_of(queryset, 15, 3)
    assert len(captured) == 1  # the ids by themselves in a subquery, the rows around them


@pytest.mark.parametrize("page", ["9", "0", "-1", "two"])
def test_a_page_past_the_end_or_not_a_number_is_a_404_as_drf_says(client, incidents, page):
    response = client.get(INCIDENTS, {"page_size": 5, "page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_the_last_page_has_no_next_and_the_first_no_previous(client, incidents):
    last = client.get(INCIDENTS, {"page_size": 5, "page": 5}).json()
    assert [row["id"] for row in last["results"]] == incidents[20:]
    assert last["next"] is None
    first = client.get(INCIDENTS, {"page_size": 5}).json()
    assert first["previous"] is None
    assert client.get(INCIDENTS, {"page_size": 5, "page": 2}).json()["previous"].endswith("page_size=5")


# --- counts ----------------------------------------------------------------------------


def services(n: int) -> None:
    Service.objects.bulk_create(Service(name=f"Service {i:04}", slug=f"service-{i:04}") for i in range(n))


def test_a_count_up_to_the_cap_is_exact_and_not_an_estimate(client):
    services(COUNT_CAP)
    body = client.get(SERVICES, {"page_size": 1}).json()
    assert (body["count"], body["count_estimated"]) == (COUNT_CAP, False)
    assert cheap_count(Service.objects.all()) == (COUNT_CAP, False)
    assert cheap_count(Service.objects.filter(name__endswith="7")) == (100, False)


def test_beyond_the_cap_postgresql_estimates_and_says_so(client):
    services(COUNT_CAP + 1)
    count, estimated = cheap_count(Service.objects.all())
    if connection.vendor == "postgresql":
        assert estimated is True
        assert count >= COUNT_CAP + 1  # the planner's estimate, never below what was counted
    else:
        assert (count, estimated) == (COUNT_CAP + 1, False)  # other databases count exactly
    body = client.get(SERVICES, {"page_size": 1}).json()
    assert (body["count"], body["count_estimated"]) == (count, estimated)


def test_an_empty_list_counts_zero_with_no_links(client):
    body = client.get(INCIDENTS).json()
    assert body == {"count": 0, "count_estimated": False, "next": None, "previous": None, "results": []}


def test_keyset_follows_plain_orderings_ending_with_a_unique_column():
    assert Keyset.of(Incident.objects.order_by("-detected_at", "-id")) is not None
    assert Keyset.of(Service.objects.order_by("name")) is not None  # a unique column
    assert Keyset.of(Incident.objects.order_by("title")) is None  # not unique, and no unique column after it
    assert Keyset.of(Incident.objects.order_by("service__name", "id")) is None  # a related column
    assert Keyset.of(Incident.objects.order_by("acknowledged_at", "id")) is None  # nullable


def test_the_schema_describes_the_envelope_and_the_parameters_of_a_list(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][INCIDENTS]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {"page", "page_size", "cursor"} <= set(parameters)
    assert "next or previous link" in parameters["cursor"]["description"]
    envelope = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][envelope]
    assert body["required"] == ["count", "count_estimated", "next", "previous", "results"]
    assert body["properties"]["count_estimated"]["type"] == "boolean"
    assert f"Exact up to {COUNT_CAP} rows" in body["properties"]["count"]["description"]
