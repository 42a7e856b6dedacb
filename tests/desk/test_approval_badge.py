"""The navigation's "awaiting my approval" badge: approvers see how many changes wait on them."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from changes import services as change_services
from opsdesk.choices import Role
from tests.factories import UserFactory


def page_of(client, user, url=None):
    client.force_login(user)
    return client.get(url or reverse("home")).content.decode()


def test_an_approver_sees_the_count_and_the_link(client, submitted_change):
    submitted_change()
    submitted_change()
    lead = UserFactory(roles=[Role.TECH_LEADS])
    page = page_of(client, lead)
    assert "Awaiting my approval" in page
    assert '<span class="badge text-bg-dark">2</span>' in page
    assert f'href="{reverse("changes:list")}?awaiting_my_approval=true"' in page


def test_a_decided_change_no_longer_counts(client, submitted_change):
    change = submitted_change()
    submitted_change()
    lead = UserFactory(roles=[Role.TECH_LEADS])
    change_services.change_approve(change=change, by=lead)
    assert '<span class="badge text-bg-dark">1</span>' in page_of(client, lead)
    # another role still waits on it
    assert '<span class="badge text-bg-dark">2</span>' in page_of(client, UserFactory(roles=[Role.PRODUCT_OWNERS]))


def test_no_badge_without_anything_waiting_or_for_non_approvers(client, submitted_change, desk):
    assert "Awaiting my approval" not in page_of(client, UserFactory(roles=[Role.TECH_LEADS]))
    submitted_change()
    assert "Awaiting my approval" not in page_of(client, desk)


def test_the_filtered_list_shows_exactly_those_changes(client, submitted_change, db):
    waiting = submitted_change(title="Waiting on me")
    decided = submitted_change(title="Decided by me")
    lead = UserFactory(roles=[Role.TECH_LEADS])
    change_services.change_approve(change=decided, by=lead)
    page = page_of(client, lead, reverse("changes:list") + "?awaiting_my_approval=true")
    assert waiting.number in page and decided.number not in page


def test_the_badge_costs_one_query_for_an_approver_and_none_for_others(client, submitted_change, desk):
    submitted_change()
    lead = UserFactory(roles=[Role.TECH_LEADS])

    def queries(user) -> list[str]:
        client.force_login(user)
        client.get(reverse("home"))
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("home"))
        return [q["sql"] for q in ctx.captured_queries]

    lead_queries, desk_queries = queries(lead), queries(desk)
    assert len(lead_queries) == len(desk_queries) + 1
    assert sum("changes_changerequest" in sql and "COUNT(" in sql for sql in lead_queries) >= 1


def test_the_api_filters_changes_awaiting_my_approval(api_client, submitted_change):
    waiting = submitted_change()
    lead = UserFactory(roles=[Role.TECH_LEADS])
    rows = api_client(lead).get("/api/v1/changes/", {"awaiting_my_approval": "true"}).json()["results"]
    assert [row["number"] for row in rows] == [waiting.number]
    assert api_client(UserFactory(roles=[Role.CHANGE_MANAGERS])).get(
        "/api/v1/changes/", {"awaiting_my_approval": "true"}).json()["results"] == []
