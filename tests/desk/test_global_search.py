"""The navigation's search box: jump to a record number, or results of every type the user may see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opsdesk.choices import Role
from tests.factories import ChangeRequestFactory, IncidentFactory, ReleaseFactory, UserFactory

SEARCH = reverse("desk:search")


def search(client, user, q):
    client.force_login(user)
    return client.get(SEARCH, {"q": q})


@pytest.fixture
def records(db):
    return {
        "incident": IncidentFactory(title="Payments API timeouts at checkout"),
        "change": ChangeRequestFactory(title="Raise payments API timeouts"),
        "release": ReleaseFactory(name="Payments timeouts fix"),
        "unrelated": IncidentFactory(title="Printer offline"),
    }


@pytest.mark.parametrize("kind", ["incident", "change", "release"])
def test_an_exact_number_jumps_to_the_record(client, records, desk, kind):
    record = records[kind]
    user = UserFactory(roles=[Role.SERVICE_DESK, Role.CHANGE_MANAGERS])
    for typed in (record.number, record.number.lower(), f"{record.NUMBER_PREFIX}-{record.pk}"):
        response = search(client, user, typed)
        assert response.status_code == 302, typed
        assert response["Location"] == reverse(f"{'changes' if kind == 'change' else kind + 's'}:detail",
                                               args=[record.pk])


def test_an_unknown_number_shows_no_results(client, desk, db):
    response = search(client, desk, "INC-999999")
    assert response.status_code == 200
    assert "Nothing matches" in response.content.decode()


def test_words_list_matches_grouped_by_type(client, records, desk):
    response = search(client, desk, "payments timeouts")
    assert response.status_code == 200
    page = response.content.decode()
    for kind in ("incident", "change", "release"):
        assert records[kind].number in page
    assert records["unrelated"].number not in page
    groups = {group.record_type.key: group for group in response.context["groups"]}
    assert list(groups) == ["incidents", "changes", "releases"]
    assert groups["incidents"].total == 1


def test_types_the_user_may_not_see_are_left_out(client, records, db):
    nobody = UserFactory(roles=[])
    response = search(client, nobody, "payments timeouts")
    assert response.context["groups"] == []
    assert search(client, nobody, records["incident"].number).status_code == 200  # no jump either


def test_a_confidential_incident_is_never_revealed_to_an_outsider(client, confidential, outsider):
    by_number = search(client, outsider, confidential.number)
    assert by_number.status_code == 200  # the ordinary no-results page, not a redirect or a 403/404
    assert "Nothing matches" in by_number.content.decode()
    # Exactly the page of a number that does not exist: the typed text echoed, nothing more.
    unknown = search(client, outsider, "INC-999999").content.decode()
    assert by_number.content.decode().count(confidential.number) == unknown.count("INC-999999")
    assert "credential" not in by_number.content.decode()
    by_words = search(client, outsider, "credential leak")
    assert confidential.number not in by_words.content.decode()
    assert by_words.context["groups"] == []


def test_the_confidential_incident_is_found_by_its_team(client, confidential, security_team):
    member = security_team.members.get()
    assert search(client, member, confidential.number).status_code == 302
    assert confidential.number in search(client, member, "credential leak").content.decode()


def test_many_matches_link_to_the_full_list(client, desk, db):
    for i in range(12):
        IncidentFactory(title=f"Disk full on node {i}")
    response = search(client, desk, "disk full")
    group = response.context["groups"][0]
    assert group.total == 12 and len(group.records) == 10
    assert f"{reverse('incidents:list')}?q=disk%20full" in response.content.decode()


def test_the_navigation_carries_the_search_box(client, desk):
    client.force_login(desk)
    page = client.get(reverse("home")).content.decode()
    assert f'action="{SEARCH}"' in page


def test_anonymous_users_go_to_the_login_page(client, db):
    assert client.get(SEARCH, {"q": "x"}).status_code == 302


def test_the_search_makes_a_fixed_number_of_queries(client, desk, django_assert_max_num_queries, db):
    for i in range(3):
        IncidentFactory(title=f"Disk full {i}")
    client.force_login(desk)
    client.get(SEARCH, {"q": "disk full"})
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(SEARCH, {"q": "disk full"})
    for i in range(20):
        IncidentFactory(title=f"Disk full {i}")
        ChangeRequestFactory(title=f"Disk full fix {i}")
    with django_assert_max_num_queries(len(few) + 2):  # the change group appears: count and rows
        client.get(SEARCH, {"q": "disk full"})
