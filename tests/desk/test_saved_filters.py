"""Saved personal filters: save the current filter of a list, see, apply and delete them; private per user."""

from __future__ import annotations

import pytest
from django.urls import reverse

from desk.models import SavedFilter
from desk.services import clean_filter_query
from opsdesk.choices import Role
from tests.factories import UserFactory


def save(client, list_key, name, query):
    return client.post(reverse("desk:saved-filter-save", args=[list_key]), {"name": name, "query": query})


def test_save_keeps_the_filter_and_opens_the_list_with_it(client, desk):
    client.force_login(desk)
    response = save(client, "incidents", "My criticals", "severity=critical&state=detected&state=responding&page=3")
    saved = SavedFilter.objects.get()
    assert (saved.user, saved.list, saved.name) == (desk, "incidents", "My criticals")
    assert saved.query == "severity=critical&state=detected&state=responding"  # no page
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('incidents:list')}?{saved.query}"


def test_the_list_shows_only_my_saved_filters_of_that_list(client, desk):
    SavedFilter.objects.create(user=desk, list="incidents", name="Mine", query="severity=high")
    SavedFilter.objects.create(user=desk, list="changes", name="My changes", query="risk=high")
    SavedFilter.objects.create(user=UserFactory(roles=[Role.SERVICE_DESK]), list="incidents", name="Theirs")
    client.force_login(desk)
    page = client.get(reverse("incidents:list")).content.decode()
    assert '<a class="dropdown-item" href="?severity=high">Mine</a>' in page
    assert "My changes" not in page and "Theirs" not in page


def test_saving_the_same_name_again_replaces_the_query(client, desk):
    client.force_login(desk)
    save(client, "incidents", "Mine", "severity=high")
    save(client, "incidents", "Mine", "severity=low")
    assert list(SavedFilter.objects.values_list("query", flat=True)) == ["severity=low"]


def test_unknown_parameters_are_not_saved():
    assert clean_filter_query("changes", "risk=high&bogus=1&sort=-planned&csrfmiddlewaretoken=x&q=") == \
        "risk=high&sort=-planned"


def test_a_name_is_required(client, desk):
    client.force_login(desk)
    response = save(client, "incidents", "  ", "severity=high")
    assert response.status_code == 302
    assert not SavedFilter.objects.exists()


def test_a_list_the_user_may_not_see_is_refused(client, db):
    client.force_login(UserFactory(roles=[]))
    assert save(client, "incidents", "x", "").status_code == 403
    assert save(client, "printers", "x", "").status_code == 404


def test_delete_my_own_but_not_someone_elses(client, desk):
    mine = SavedFilter.objects.create(user=desk, list="incidents", name="Mine")
    theirs = SavedFilter.objects.create(user=UserFactory(roles=[Role.SERVICE_DESK]), list="incidents", name="Theirs")
    client.force_login(desk)
    assert client.post(reverse("desk:saved-filter-delete", args=[theirs.pk])).status_code == 404
    response = client.post(reverse("desk:saved-filter-delete", args=[mine.pk]),
                           {"next": reverse("incidents:list") + "?severity=high"})
    assert response.status_code == 302 and response["Location"] == reverse("incidents:list") + "?severity=high"
    assert list(SavedFilter.objects.all()) == [theirs]


def test_delete_does_not_redirect_off_site(client, desk):
    mine = SavedFilter.objects.create(user=desk, list="changes", name="Mine")
    client.force_login(desk)
    response = client.post(reverse("desk:saved-filter-delete", args=[mine.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("changes:list")


# --- API ---------------------------------------------------------------------------------


def test_api_lists_creates_and_deletes_my_filters(api_client, desk):
    other = SavedFilter.objects.create(user=UserFactory(roles=[Role.SERVICE_DESK]), list="incidents", name="Theirs")
    api = api_client(desk)
    created = api.post("/api/v1/saved-filters/", {"list": "incidents", "name": "Breached",
                                                  "query": "breached=true&page=2"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["query"] == "breached=true"
    assert body["url"] == f"{reverse('incidents:list')}?breached=true"
    listed = api.get("/api/v1/saved-filters/", {"list": "incidents"}).json()
    assert [row["name"] for row in listed["results"]] == ["Breached"]
    assert api.get(f"/api/v1/saved-filters/{other.pk}/").status_code == 404
    assert api.delete(f"/api/v1/saved-filters/{other.pk}/").status_code == 404
    assert api.delete(f"/api/v1/saved-filters/{body['id']}/").status_code == 204
    assert list(SavedFilter.objects.all()) == [other]


@pytest.mark.parametrize("payload, field", [
    ({"list": "printers", "name": "x"}, "list"),
    ({"list": "incidents", "name": ""}, "name"),
])
def test_api_bad_input_is_400(api_client, desk, payload, field):
    response = api_client(desk).post("/api/v1/saved-filters/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_api_needs_login(api_client, db):
    assert api_client().get("/api/v1/saved-filters/").status_code == 401
