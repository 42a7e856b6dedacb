"""Login lockout (django-axes) and the audit log (§6): logins, failures, logouts, lockouts,
permission denials (logged once, no traceback), tokens issued and revoked, admin writes."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from opsdesk.choices import AuditKind, Role
from opsdesk.exceptions import AppendOnlyError
from opsdesk.models import AuditEvent, Team
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def kinds() -> list[str]:
    return list(AuditEvent.objects.order_by("time", "id").values_list("kind", flat=True))


def _post_login(url: str, username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_five_failures_lock_the_user_from_that_address_for_15_minutes(url):
    UserFactory(username="victim", password="right-password", is_staff=True)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(4):
            assert _post_login(url, "victim", "wrong").status_code == 200  # the form again, with its error
        assert _post_login(url, "victim", "wrong").status_code == 429  # the fifth failure locks
        locked = _post_login(url, "victim", "right-password")
        assert locked.status_code == 429
        assert b"Too many failed logins" in locked.content
        assert b"15 minutes" in locked.content
        # Another address, and another user from the same address, are not locked.
        assert _post_login(url, "victim", "right-password", address="10.0.0.2").status_code == 302
        UserFactory(username="colleague", password="pw2", is_staff=True)
        assert _post_login(url, "colleague", "pw2").status_code == 302
        clock.shift(timedelta(minutes=16))  # 15 minutes after the last attempt
        assert _post_login(url, "victim", "right-password").status_code == 302
    assert kinds().count(AuditKind.LOGIN_FAILED) >= 5
    # The lockout itself, and the refused attempt while locked.
    assert kinds().count(AuditKind.LOCKOUT) == 2
    lockout = AuditEvent.objects.filter(kind=AuditKind.LOCKOUT).order_by("id").first()
    assert (lockout.username, lockout.ip_address, lockout.path) == ("victim", "10.0.0.1", url)
    assert lockout.user.username == "victim"


def test_four_failures_then_success_do_not_lock():
    UserFactory(username="typo", password="pw")
    for _ in range(4):
        _post_login("/login/", "typo", "wrong")
    assert _post_login("/login/", "typo", "pw").status_code == 302
    assert not AuditEvent.objects.filter(kind=AuditKind.LOCKOUT).exists()


def test_login_failure_and_logout_are_recorded_with_user_address_and_path():
    user = UserFactory(username="sam", password="pw")
    client = Client(REMOTE_ADDR="192.0.2.7")
    client.post("/login/", {"username": "nobody", "password": "x"})
    client.post("/login/", {"username": "sam", "password": "pw"})
    client.post("/logout/")
    assert kinds() == [AuditKind.LOGIN_FAILED, AuditKind.LOGIN, AuditKind.LOGOUT]
    failed, login, logout = AuditEvent.objects.order_by("time", "id")
    assert (failed.username, failed.user, failed.ip_address) == ("nobody", None, "192.0.2.7")
    assert (login.user, login.method, login.path) == (user, "POST", "/login/")
    assert logout.user == user


def test_a_permission_denial_is_recorded_and_logged_once_without_traceback(caplog, user_in_role):
    reader = user_in_role(Role.API_READERS)
    client = Client()
    client.force_login(reader)
    with caplog.at_level(logging.INFO):
        response = client.post("/api/v1/teams/", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    denial = AuditEvent.objects.get(kind=AuditKind.PERMISSION_DENIED)
    assert (denial.user, denial.method, denial.path) == (reader, "POST", "/api/v1/teams/")
    about = [r for r in caplog.records if "/api/v1/teams/" in r.getMessage()]
    assert len(about) == 1, [r.getMessage() for r in about]
    assert about[0].exc_info is None


def test_a_page_denial_is_recorded_once_without_traceback(caplog, user_in_role):
    desk = user_in_role(Role.SERVICE_DESK)
    client = Client()
    client.force_login(desk)
    with caplog.at_level(logging.INFO):
        response = client.get("/changes/new/")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(kind=AuditKind.PERMISSION_DENIED, path="/changes/new/", user=desk).count() == 1
    about = [r for r in caplog.records if "/changes/new/" in r.getMessage()]
    assert len(about) == 1 and about[0].exc_info is None


def test_api_tokens_issued_and_revoked_are_recorded(user_in_role):
    reader = user_in_role(Role.API_READERS)
    call_command("issue_token", reader.username, "--days", "7", stdout=StringIO(), stderr=StringIO())
    token = AuthToken.objects.get()
    issued = AuditEvent.objects.get(kind=AuditKind.TOKEN_ISSUED)
    assert issued.user == reader and token.token_key in issued.object_repr
    token.delete()
    revoked = AuditEvent.objects.get(kind=AuditKind.TOKEN_REVOKED)
    assert (revoked.user, revoked.detail) == (reader, "revoked")


def test_feed_tokens_issued_and_revoked_are_recorded(user_in_role):
    from changes.services import feed_token_issue, feed_token_revoke

    manager = user_in_role(Role.CHANGE_MANAGERS)
    token, _ = feed_token_issue(user=manager, by=manager, name="Outlook")
    feed_token_revoke(token=token, by=manager)
    assert [e.kind for e in AuditEvent.objects.order_by("id")] == [AuditKind.TOKEN_ISSUED, AuditKind.TOKEN_REVOKED]
    assert all(e.object_repr == f"feed token {token.prefix}" for e in AuditEvent.objects.all())


def test_admin_add_change_and_delete_are_recorded(client):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    team = TeamFactory(name="Blue")
    response = client.post(reverse("admin:opsdesk_team_change", args=[team.pk]), {
        "name": "Blue team", "email": "", "webhook_url": "", "members": [], "lead": "", "active": "on",
    })
    assert response.status_code == 302, response.content
    change = AuditEvent.objects.get(kind=AuditKind.ADMIN_CHANGE)
    assert change.user == admin_user and "Blue team" in change.object_repr
    response = client.post(reverse("admin:opsdesk_team_add"), {
        "name": "Green", "email": "", "webhook_url": "", "members": [], "lead": "", "active": "on",
    })
    assert response.status_code == 302
    assert AuditEvent.objects.filter(kind=AuditKind.ADMIN_ADD, object_repr__contains="Green").count() == 1
    assert Team.objects.filter(name="Green").exists()


def test_the_audit_log_is_append_only_and_for_superusers_only(client):
    event = AuditEvent.objects.create(kind=AuditKind.LOGIN, username="x")
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    staff = UserFactory(is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_auditevent"))
    client.force_login(staff)
    assert client.get(reverse("admin:opsdesk_auditevent_changelist")).status_code == 403
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:opsdesk_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:opsdesk_auditevent_change", args=[event.pk])).status_code == 200
    assert client.post(reverse("admin:opsdesk_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
