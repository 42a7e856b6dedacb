"""The transition log is append-only: no update, no delete, not even by a superuser in the admin."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from opsdesk.exceptions import AppendOnlyError
from opsdesk.models import Service, TransitionLog
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    service = ServiceFactory()
    return TransitionLog.objects.create(
        content_type=ContentType.objects.get_for_model(Service),
        object_id=service.pk,
        object_number="INC-000001",
        transition="acknowledge",
        from_state="detected",
        to_state="acknowledged",
        user=UserFactory(),
        comment="On it.",
    )


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _unchanged(entry):
    fresh = TransitionLog.objects.get(pk=entry.pk)
    assert (fresh.transition, fresh.to_state, fresh.comment) == ("acknowledge", "acknowledged", "On it.")


def test_a_new_entry_is_written(entry):
    assert TransitionLog.objects.count() == 1


def test_saving_an_existing_entry_is_refused(entry):
    entry.comment = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    _unchanged(entry)


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    _unchanged(entry)


def test_queryset_update_and_delete_are_refused(entry):
    with pytest.raises(AppendOnlyError):
        TransitionLog.objects.filter(pk=entry.pk).update(comment="rewritten")
    with pytest.raises(AppendOnlyError):
        TransitionLog.objects.all().delete()
    _unchanged(entry)


def test_superuser_sees_the_log_in_the_admin_read_only(superuser_client, entry):
    response = superuser_client.get(reverse("admin:opsdesk_transitionlog_changelist"))
    assert response.status_code == 200
    assert "INC-000001" in response.content.decode()
    assert reverse("admin:opsdesk_transitionlog_add") not in response.content.decode()
    response = superuser_client.get(reverse("admin:opsdesk_transitionlog_change", args=[entry.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


def test_superuser_cannot_edit_an_entry_in_the_admin(superuser_client, entry):
    response = superuser_client.post(
        reverse("admin:opsdesk_transitionlog_change", args=[entry.pk]),
        {"transition": "close", "from_state": "x", "to_state": "y", "comment": "rewritten", "_save": "Save"},
    )
    assert response.status_code == 403
    _unchanged(entry)


def test_superuser_cannot_delete_an_entry_in_the_admin(superuser_client, entry):
    url = reverse("admin:opsdesk_transitionlog_delete", args=[entry.pk])
    assert superuser_client.get(url).status_code == 403
    assert superuser_client.post(url, {"post": "yes"}).status_code == 403
    response = superuser_client.post(
        reverse("admin:opsdesk_transitionlog_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    _unchanged(entry)


def test_superuser_cannot_add_an_entry_in_the_admin(superuser_client):
    url = reverse("admin:opsdesk_transitionlog_add")
    assert superuser_client.get(url).status_code == 403
    assert superuser_client.post(url, {"transition": "x"}).status_code == 403
    assert TransitionLog.objects.count() == 0


def test_many_entries_are_appended_in_one_statement_as_written(django_assert_num_queries):
    from datetime import UTC, datetime

    from opsdesk.workflow import log_many

    service, person = ServiceFactory(), UserFactory()
    content_type = ContentType.objects.get_for_model(Service)
    at = datetime(2026, 3, 2, 9, 30, 12, 345678, tzinfo=UTC)  # microseconds kept
    entries = [
        TransitionLog(content_type=content_type, object_id=service.pk, object_number=f"INC-{i:06d}",
                      transition="escalate", from_state="detected", to_state="detected",
                      user=person if i % 2 else None, comment=f"level {i}: it's late, \"really\"\n{{}}", timestamp=at)
        for i in range(5)
    ]
    with django_assert_num_queries(1):
        log_many(entries)
    log_many([])  # nothing to write: no statement
    assert list(TransitionLog.objects.order_by("id").values_list(
        "content_type_id", "object_id", "object_number", "transition", "from_state", "to_state", "user_id",
        "comment", "timestamp",
    )) == [
        (content_type.pk, service.pk, f"INC-{i:06d}", "escalate", "detected", "detected",
         person.pk if i % 2 else None, f"level {i}: it's late, \"really\"\n{{}}", at)
        for i in range(5)
    ]
