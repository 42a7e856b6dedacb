"""CSV exports of the lists: the list's filters, only visible rows, streamed in a fixed number of queries."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opsdesk.choices import Role
from opsdesk.exports import cell
from tests.factories import ChangeRequestFactory, IncidentFactory, ReleaseFactory, ServiceFactory, UserFactory


def export(client, user, list_key, **params):
    client.force_login(user)
    return client.get(reverse("desk:export", args=[list_key]), params)


def rows_of(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_incident_export_applies_the_queue_filters(client, desk):
    high = IncidentFactory(title="Payments API timeouts", severity="high")
    IncidentFactory(title="Payments dashboard blank", severity="low")
    response = export(client, desk, "incidents", severity="high", q="payments")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="incidents-')
    rows = rows_of(response)
    assert [row["number"] for row in rows] == [high.number]
    assert rows[0]["severity"] == "high" and rows[0]["service"] == high.service.name
    assert rows[0]["detected_at"].startswith(f"{high.detected_at:%Y-%m-%d}")


def test_confidential_incidents_are_exported_only_to_who_may_see_them(client, confidential, outsider, security_team):
    IncidentFactory(title="Open to all")
    assert confidential.number not in {row["number"] for row in rows_of(export(client, outsider, "incidents"))}
    member = security_team.members.get()
    assert confidential.number in {row["number"] for row in rows_of(export(client, member, "incidents"))}


def test_changes_and_releases_export_their_services(client, db):
    a, b = ServiceFactory(name="Billing"), ServiceFactory(name="Checkout")
    change = ChangeRequestFactory(title="Rotate certificates", services=[a, b])
    ChangeRequestFactory(title="Something else")
    release = ReleaseFactory(name="Spring", services=[a])
    manager = UserFactory(roles=[Role.CHANGE_MANAGERS])
    rows = rows_of(export(client, manager, "changes", q="rotate"))
    assert [row["number"] for row in rows] == [change.number]
    assert sorted(rows[0]["services"].split(", ")) == ["Billing", "Checkout"]
    rows = rows_of(export(client, manager, "releases"))
    assert [(row["number"], row["services"]) for row in rows] == [(release.number, "Billing")]


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil\")", "+1+2", "-2+3", "@SUM(A1)", "\tx"])
def test_formulas_are_neutralised(text):
    assert cell(text) == "'" + text
    assert cell("plain text") == "plain text" and cell(None) == "" and cell(True) == "true"


def test_an_incident_title_that_is_a_formula_is_exported_as_text(client, desk):
    IncidentFactory(title="=cmd|' /C calc'!A0")
    assert rows_of(export(client, desk, "incidents"))[0]["title"] == "'=cmd|' /C calc'!A0"


def test_the_export_makes_the_same_number_of_queries_for_any_number_of_rows(client, desk):
    IncidentFactory()

    client.force_login(desk)

    def measure() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            rows = rows_of(client.get(reverse("desk:export", args=["incidents"])))
        return len(ctx.captured_queries), len(rows)

    measure()  # caches warm
    few, count = measure()
    IncidentFactory.create_batch(30)
    many, more = measure()
    assert (count, more) == (1, 31)
    assert many == few
    assert few == 5  # session, user, 2 × permissions, the rows (one query, with the joins)


def test_change_export_queries_do_not_grow_with_rows(client, db):
    client.force_login(UserFactory(roles=[Role.CHANGE_MANAGERS]))
    url = reverse("desk:export", args=["changes"])
    ChangeRequestFactory(services=[ServiceFactory()])
    rows_of(client.get(url))
    with CaptureQueriesContext(connection) as few:
        rows_of(client.get(url))
    for _ in range(15):
        ChangeRequestFactory(services=[ServiceFactory(), ServiceFactory()])
    with CaptureQueriesContext(connection) as many:
        assert len(rows_of(client.get(url))) == 16
    assert len(many) == len(few)


def test_refusals(client, db):
    nobody = UserFactory(roles=[])
    assert export(client, nobody, "incidents").status_code == 403
    reader = UserFactory(roles=[Role.API_READERS])
    assert export(client, reader, "printers").status_code == 404
    bad = export(client, reader, "incidents", severity="enormous")
    assert bad.status_code == 400
    assert b"severity" in bad.content
    client.logout()
    assert client.get(reverse("desk:export", args=["incidents"])).status_code == 302


def test_each_list_links_to_its_export_with_the_current_filters(client, db):
    user = UserFactory(roles=[Role.SERVICE_DESK, Role.CHANGE_MANAGERS, Role.RELEASE_MANAGERS])
    client.force_login(user)
    page = client.get(reverse("incidents:list"), {"severity": "high", "q": "disk", "page": "1"}).content.decode()
    assert f'{reverse("desk:export", args=["incidents"])}?severity=high&amp;q=disk"' in page
    for key in ("changes", "releases"):
        page = client.get(reverse(f"{key}:list"), {"q": "x"}).content.decode()
        assert f'{reverse("desk:export", args=[key])}?q=x"' in page
