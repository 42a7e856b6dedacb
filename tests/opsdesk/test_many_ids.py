"""``opsdesk.selectors.many_ids``: a filter by thousands of ids, as one array parameter on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opsdesk.models import Service
from opsdesk.selectors import many_ids
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_it_finds_the_rows_of_the_ids_in_one_parameter_on_postgresql():
    services = [ServiceFactory(name=f"S{i}", slug=f"s{i}") for i in range(4)]
    wanted = [services[0].pk, services[2].pk, 10**9]
    with CaptureQueriesContext(connection) as captured:
        found = sorted(Service.objects.filter(many_ids("pk", wanted)).values_list("pk", flat=True))
    assert found == [services[0].pk, services[2].pk]
    sql = captured.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert '"opsdesk_service"."id" = ANY(' in sql
        assert " IN (" not in sql
    else:
        assert f'"opsdesk_service"."id" IN ({services[0].pk}, {services[2].pk}, {10**9})' in sql


def test_it_serves_updates_and_a_foreign_key_and_no_ids_match_nothing():
    team_service = ServiceFactory(name="A", slug="a")
    other = ServiceFactory(name="B", slug="b")
    changed = Service.objects.filter(many_ids("owner_team_id", [team_service.owner_team_id])).update(description="x")
    assert changed == 1
    assert Service.objects.get(pk=other.pk).description != "x"
    with CaptureQueriesContext(connection) as captured:
        assert list(Service.objects.filter(many_ids("pk", []))) == []
    assert captured.captured_queries == []


def test_other_values_than_integers_travel_as_an_array_too():
    from opsdesk import notifications
    from opsdesk.models import Notification

    for key in ("a", "b'; --", "c"):
        notifications.notify(recipients=[notifications.email("ops@example.test")], subject="s", body="b",
                             dedupe_key=key)
    keys = ["b'; --|email|ops@example.test", "c|email|ops@example.test", "z"]
    found = Notification.objects.filter(many_ids("dedupe_key", keys)).values_list("dedupe_key", flat=True)
    assert sorted(found) == keys[:2]
