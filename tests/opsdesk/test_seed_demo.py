"""seed_demo: users per role, teams, services, the apps' seeds in order; refuses to seed twice."""

from __future__ import annotations

import stat
import types
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from incidents.models import SLAPolicy
from opsdesk import demo
from opsdesk.choices import Role
from opsdesk.management.commands import seed_demo
from opsdesk.models import Notification, Service, Team
from opsdesk.notifications import email, notify

User = get_user_model()

# --reset flushes the database, which needs real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_seeds(monkeypatch, tmp_path):
    """Stand-ins for the apps' demo modules (fast); record the order and what they were given."""
    calls = []
    names = []
    for app in ["incidents", "changes", "releases", "metrics"]:
        name = f"fake_{app}_demo"

        def seed(ctx, app=app):
            calls.append((app, ctx))
            # Seeding is muted: a notification here must not be written.
            notify(recipients=[email("x@example.test")], subject=app, body="")
            return f"{app} ok"

        monkeypatch.setitem(__import__("sys").modules, name, types.SimpleNamespace(seed=seed))
        names.append(name)
    monkeypatch.setattr(seed_demo, "APP_SEEDS", names)
    monkeypatch.setattr(demo, "CREDENTIALS_FILE", tmp_path / "var" / "demo-credentials.txt")
    return calls


def _seed(*args):
    out, err = StringIO(), StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_seed_demo_creates_users_per_role_teams_services_and_calls_the_apps_in_order(fake_seeds):
    out, err = _seed()
    assert [app for app, _ in fake_seeds] == ["incidents", "changes", "releases", "metrics"]
    ctx = fake_seeds[0][1]
    assert isinstance(ctx, demo.DemoContext)
    assert ctx.admin.username == "admin" and ctx.admin.is_superuser
    assert {role: ctx.users[role][0].username for role in Role.values} == {
        Role.SERVICE_DESK: "desk", Role.INCIDENT_MANAGERS: "incidentmgr", Role.CHANGE_MANAGERS: "changemgr",
        Role.TECH_LEADS: "techlead", Role.PRODUCT_OWNERS: "productowner", Role.OPS_MANAGERS: "opsmgr",
        Role.RELEASE_MANAGERS: "releasemgr", Role.API_READERS: "apireader",
    }
    for username in ["desk", "incidentmgr", "changemgr", "techlead", "productowner", "opsmgr"]:
        user = User.objects.get(username=username)
        assert user.groups.count() == 1
    assert set(User.objects.filter(is_staff=True).values_list("username", flat=True)) == {
        "admin", "incidentmgr", "changemgr", "techlead", "productowner", "opsmgr"}
    assert len(ctx.teams) == Team.objects.count() == 5
    assert all(team.email and team.lead and team.members.count() >= 3 for team in Team.objects.all())
    assert len(ctx.services) == Service.objects.count() == 8
    assert not Service.objects.filter(owner_team=None).exists()
    assert Notification.objects.count() == 0
    assert "fake_incidents_demo: incidents ok" in out and "fake_metrics_demo: metrics ok" in out
    assert err == ""


def test_passwords_are_random_printed_once_and_kept_in_a_private_file(fake_seeds):
    out, _ = _seed()
    logins = demo.read_credentials(demo.CREDENTIALS_FILE)
    assert stat.S_IMODE(demo.CREDENTIALS_FILE.stat().st_mode) == 0o600
    # Every user who can log in has a login; the board's deputies cannot (no usable password).
    can_log_in = [u.username for u in User.objects.all() if u.has_usable_password()]
    assert sorted(login.username for login in logins) == sorted(can_log_in)
    assert sorted(set(User.objects.values_list("username", flat=True)) - set(can_log_in)) == sorted(
        username for username, *_ in demo.DEPUTIES
    )
    assert len({login.password for login in logins}) == len(logins)
    for login in logins:
        assert f"{login.username}" in out and login.password in out
        assert User.objects.get(username=login.username).check_password(login.password)


def test_a_second_run_refuses_with_a_clear_message(fake_seeds):
    _seed()
    with pytest.raises(CommandError, match="Demo data is already in this database.*--reset"):
        _seed()
    assert User.objects.filter(username="desk").count() == 1


def test_if_empty_is_quiet_when_seeded(fake_seeds):
    _seed()
    fake_seeds.clear()
    assert _seed("--if-empty") == ("", "")
    assert fake_seeds == []


def test_if_empty_seeds_an_empty_database(fake_seeds):
    out, _ = _seed("--if-empty")
    assert "Demo data created" in out
    assert User.objects.filter(username="admin").exists()


def test_reset_erases_everything_and_seeds_again_with_roles_and_policies_back(fake_seeds):
    _seed()
    old_password = demo.read_credentials(demo.CREDENTIALS_FILE)[0].password
    Team.objects.create(name="Left over")
    out, _ = _seed("--reset")
    assert "Erasing the database" in out
    assert not Team.objects.filter(name="Left over").exists()
    assert User.objects.filter(username="admin").count() == 1
    assert set(Group.objects.values_list("name", flat=True)) == set(Role.values)
    assert Group.objects.get(name=Role.SERVICE_DESK).permissions.filter(codename="resolve_incident").exists()
    assert SLAPolicy.objects.count() == 4
    assert demo.read_credentials(demo.CREDENTIALS_FILE)[0].password != old_password


def test_a_missing_app_module_is_named(fake_seeds, monkeypatch):
    monkeypatch.setattr(seed_demo, "APP_SEEDS", [*seed_demo.APP_SEEDS, "nosuchapp.demo"])
    _, err = _seed()
    assert "Module nosuchapp.demo is missing" in err
    assert len(fake_seeds) == 4


def test_a_failing_app_seed_saves_nothing(fake_seeds, monkeypatch):
    def broken(ctx):
        raise ValueError("no release calendar")

    monkeypatch.setitem(__import__("sys").modules, "fake_releases_demo", types.SimpleNamespace(seed=broken))
    with pytest.raises(CommandError, match="fake_releases_demo.seed failed, nothing was saved: ValueError"):
        _seed()
    assert not User.objects.exists()
    assert not Team.objects.exists()


def test_demo_banner_prints_the_address_and_the_logins(fake_seeds):
    _seed()
    out = StringIO()
    call_command("demo_banner", "--port", "8123", stdout=out)
    assert "OpsDesk is starting on http://127.0.0.1:8123/" in out.getvalue()
    for login in demo.read_credentials(demo.CREDENTIALS_FILE):
        assert login.password in out.getvalue()
