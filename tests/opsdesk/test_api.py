"""The kernel's API: authentication (session, knox tokens), permissions, errors, pagination."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from opsdesk.models import Service
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

SERVICES = "/api/v1/services/"


def _token_client(key: str, prefix: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{prefix} {key}")
    return client


def test_anonymous_gets_401_with_the_token_challenge(api_client):
    response = api_client().get(SERVICES)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_user_without_view_permission_gets_403(api_client):
    assert api_client(UserFactory()).get(SERVICES).status_code == 403


def test_api_reader_lists_services_and_teams(api_client, api_reader):
    team = TeamFactory(name="Platform", email="platform@example.test", members=[api_reader])
    ServiceFactory(name="Payments API", slug="payments-api", owner_team=team, criticality="critical")
    client = api_client(api_reader)
    response = client.get(SERVICES)
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == [
        {"id": Service.objects.get().pk, "name": "Payments API", "slug": "payments-api", "description": "",
         "owner_team": team.pk, "criticality": "critical", "stakeholder_emails": "", "active": True}
    ]
    teams = client.get("/api/v1/teams/?name=plat").json()["results"]
    assert [(t["name"], t["email"], t["members"], t["lead"]) for t in teams] == [
        ("Platform", "platform@example.test", [api_reader.pk], team.lead_id)
    ]


def test_api_reader_writes_nothing(api_client, api_reader):
    client = api_client(api_reader)
    assert client.post(SERVICES, {"name": "X", "slug": "x"}, format="json").status_code == 403
    service = ServiceFactory()
    assert client.patch(f"{SERVICES}{service.pk}/", {"name": "Y"}, format="json").status_code == 403
    assert client.delete(f"{SERVICES}{service.pk}/").status_code == 403
    assert Service.objects.get().name == service.name


def test_bad_input_is_a_400_with_field_errors(api_client):
    client = api_client(UserFactory(is_superuser=True))
    response = client.post(SERVICES, {"slug": "not a slug!", "criticality": "apocalyptic"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name", "slug", "criticality"}


def test_an_unknown_object_is_a_404(api_client, api_reader):
    response = api_client(api_reader).get(f"{SERVICES}987654/")
    assert response.status_code == 404


def test_pagination_honours_page_size_up_to_200(api_client, api_reader):
    Service.objects.bulk_create(Service(name=f"Service {n:03}", slug=f"service-{n:03}") for n in range(205))
    client = api_client(api_reader)
    small = client.get(SERVICES, {"page_size": 2, "page": 2, "ordering": "name"}).json()
    assert small["count"] == 205
    assert [s["name"] for s in small["results"]] == ["Service 002", "Service 003"]
    assert small["count_estimated"] is False
    # The ordering ends with a unique column: the links carry a keyset cursor, not a page number.
    assert "cursor=" in small["next"] and "page=" not in small["next"].replace("page_size", "")
    following = client.get(small["next"]).json()
    assert [s["name"] for s in following["results"]] == ["Service 004", "Service 005"]
    back = client.get(following["previous"]).json()
    assert [s["name"] for s in back["results"]] == ["Service 002", "Service 003"]
    assert len(client.get(SERVICES).json()["results"]) == 50
    assert len(client.get(SERVICES, {"page_size": 500}).json()["results"]) == 200
    assert client.get(SERVICES, {"page": 99}).status_code == 404


def test_list_query_count_does_not_grow_with_page_size(api_client, api_reader, django_assert_num_queries):
    team = TeamFactory()
    Service.objects.bulk_create(
        Service(name=f"Service {n:03}", slug=f"service-{n:03}", owner_team=team) for n in range(60)
    )
    client = api_client(api_reader)
    client.get(SERVICES, {"page_size": 1})  # warm the permission cache of the user object
    with django_assert_num_queries(2) as small:  # count + page
        client.get(SERVICES, {"page_size": 5})
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(SERVICES, {"page_size": 60})
    with django_assert_num_queries(3):  # + the members prefetch
        client.get("/api/v1/teams/", {"page_size": 60})


class TestTokens:
    def test_a_token_authenticates_with_the_token_prefix(self, api_reader):
        _, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))
        assert _token_client(key).get(SERVICES).status_code == 200

    def test_only_a_hash_is_stored(self, api_reader):
        instance, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))
        assert key not in instance.digest
        assert instance.token_key == key[:15]

    def test_a_user_may_hold_several_tokens(self, api_reader):
        keys = [AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))[1] for _ in range(2)]
        assert [_token_client(k).get(SERVICES).status_code for k in keys] == [200, 200]

    def test_a_wrong_key_or_another_prefix_is_a_401(self, api_reader):
        _, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))
        assert _token_client(key[:-1] + ("0" if key[-1] != "0" else "1")).get(SERVICES).status_code == 401
        assert _token_client(key, prefix="Bearer").get(SERVICES).status_code == 401

    def test_an_expired_token_is_a_401_and_is_removed(self, api_reader):
        _, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(seconds=-1))
        assert _token_client(key).get(SERVICES).status_code == 401
        assert AuthToken.objects.count() == 0

    def test_a_revoked_token_is_a_401(self, api_reader):
        instance, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))
        instance.delete()
        assert _token_client(key).get(SERVICES).status_code == 401

    def test_a_token_of_an_inactive_user_is_a_401(self, api_reader):
        _, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))
        api_reader.is_active = False
        api_reader.save()
        assert _token_client(key).get(SERVICES).status_code == 401

    def test_issue_token_prints_a_working_key_once(self, api_reader):
        out, err = StringIO(), StringIO()
        call_command("issue_token", api_reader.username, "--days", "7", "--name", "grafana", stdout=out, stderr=err)
        lines = out.getvalue().splitlines()
        assert lines[0].startswith(f"Token for grafana (user {api_reader.username}, expires ")
        key = lines[1]
        assert len(key) == 64
        assert "shown only once" in err.getvalue()
        token = AuthToken.objects.get()
        assert timedelta(days=6, hours=23) < token.expiry - token.created <= timedelta(days=7)
        assert _token_client(key).get(SERVICES).status_code == 200

    def test_issue_token_defaults_to_the_configured_lifetime(self, api_reader, settings):
        call_command("issue_token", api_reader.username, stdout=StringIO(), stderr=StringIO())
        token = AuthToken.objects.get()
        assert timedelta(days=89, hours=23) < token.expiry - token.created <= timedelta(days=90)

    @pytest.mark.parametrize(
        ("args", "message"),
        [(["nobody"], "No user named 'nobody'"), (["reader", "--days", "0"], "--days must be at least 1")],
    )
    def test_issue_token_refuses_bad_input(self, args, message):
        UserFactory(username="reader")
        with pytest.raises(CommandError, match=message):
            call_command("issue_token", *args, stdout=StringIO(), stderr=StringIO())
        assert AuthToken.objects.count() == 0

    def test_tokens_are_listed_and_revoked_in_the_admin(self, client, api_reader):
        assert AuthToken in admin.site._registry
        instance, key = AuthToken.objects.create(user=api_reader, expiry=timedelta(days=1))
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        response = client.get(reverse("admin:knox_authtoken_changelist"))
        assert response.status_code == 200
        assert api_reader.username in response.content.decode()
        response = client.post(reverse("admin:knox_authtoken_delete", args=[instance.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert _token_client(key).get(SERVICES).status_code == 401


def _api_filtersets() -> dict[str, type]:
    """Every FilterSet the API's list views filter with, by view name."""
    from django.urls import URLPattern, URLResolver, get_resolver
    from django_filters.rest_framework import DjangoFilterBackend

    found = {}

    def visit(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                visit(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "cls", None) is not None:
                view = pattern.callback.cls(**getattr(pattern.callback, "initkwargs", {}))
                queryset = getattr(view, "queryset", None)
                if queryset is None or not prefix.startswith("api/v1/"):
                    continue
                filterset = DjangoFilterBackend().get_filterset_class(view, queryset)
                if filterset is not None:
                    found[view.__class__.__name__] = filterset

    visit(get_resolver().url_patterns)
    return found


def test_every_filter_parameter_of_every_list_reaches_its_filterset():
    """The API's filter backend skips the FilterSet on requests with none of its parameters: every
    parameter a filter's form field reads (a range's ``_after`` / ``_before`` parts too) must count."""
    from django.forms import MultiWidget

    from opsdesk.api.filters import _asks_for

    filtersets = _api_filtersets()
    assert {"IncidentViewSet", "ChangeRequestViewSet"} <= set(filtersets)
    for filterset in filtersets.values():
        assert not _asks_for(filterset, {"page": "2", "page_size": "5", "ordering": "id", "cursor": "x"})
        for name, field in filterset().form.fields.items():
            widget = field.widget
            parts = widget.widgets_names if isinstance(widget, MultiWidget) else [""]
            for param in (f"{name}{suffix}" for suffix in parts):
                assert _asks_for(filterset, {param: "x"}), (filterset.__name__, param)


def test_an_unfiltered_list_and_a_filtered_one(api_client, api_reader):
    Service.objects.bulk_create([Service(name="Payments", slug="payments"), Service(name="Search", slug="search")])
    client = api_client(api_reader)
    assert [s["name"] for s in client.get(SERVICES).json()["results"]] == ["Payments", "Search"]
    assert [s["name"] for s in client.get(SERVICES, {"name": "sea"}).json()["results"]] == ["Search"]


def test_a_range_filter_is_asked_for_by_either_of_its_parts():
    import django_filters

    from opsdesk.api.filters import _asks_for

    class Ranged(django_filters.FilterSet):
        created = django_filters.DateFromToRangeFilter()
        needed = django_filters.CharFilter(required=False)

    assert _asks_for(Ranged, {"created_after": "2026-01-01"})
    assert _asks_for(Ranged, {"created_before": "2026-01-01"})
    assert not _asks_for(Ranged, {"page": "2", "creat": "x"})

    class Required(django_filters.FilterSet):
        needed = django_filters.CharFilter(required=True)

    assert _asks_for(Required, {})  # a required filter must be validated, and refused when absent
