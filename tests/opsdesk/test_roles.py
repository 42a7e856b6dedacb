"""Roles (§6): the migration creates the groups, and each carries exactly its permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from opsdesk.choices import Role
from opsdesk.roles import ROLE_PERMISSIONS, sync_role_permissions, user_roles

pytestmark = pytest.mark.django_db


def _group_perms(role: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=role).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_the_migration_creates_exactly_the_eight_role_groups():
    assert set(Group.objects.values_list("name", flat=True)) == set(Role.values)
    assert len(Role.values) == 8


def test_every_permission_named_in_the_roles_table_exists():
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    named = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    assert named - existing == set()


@pytest.mark.parametrize("role", Role.values)
def test_each_group_carries_exactly_the_permissions_of_the_roles_table(role):
    assert _group_perms(role) == set(ROLE_PERMISSIONS[role])


def test_post_migrate_sync_restores_the_table_after_a_manual_edit():
    group = Group.objects.get(name=Role.API_READERS)
    group.permissions.add(Permission.objects.get(codename="add_incident"))
    group.permissions.remove(Permission.objects.get(codename="view_service"))
    sync_role_permissions()
    assert _group_perms(Role.API_READERS) == set(ROLE_PERMISSIONS[Role.API_READERS])


def test_service_desk_logs_acknowledges_resolves_but_does_not_close_hold_or_approve(user_in_role):
    user = user_in_role(Role.SERVICE_DESK)
    for perm in ["add_incident", "change_incident", "acknowledge_incident", "resolve_incident", "view_incident"]:
        assert user.has_perm(f"incidents.{perm}"), perm
    for perm in ["close_incident", "hold_incident", "cancel_incident", "change_severity_incident",
                 "escalate_incident", "view_confidential_incident", "delete_incident"]:
        assert not user.has_perm(f"incidents.{perm}"), perm
    assert not user.has_perm("changes.approve_changerequest")
    assert not user.has_perm("changes.add_changerequest")
    assert not user.has_perm("releases.move_release")


def test_incident_managers_hold_every_incident_transition(user_in_role):
    user = user_in_role(Role.INCIDENT_MANAGERS)
    for perm in ["acknowledge", "hold", "resume", "resolve", "reopen", "close", "cancel",
                 "change_severity", "escalate", "view_confidential"]:
        assert user.has_perm(f"incidents.{perm}_incident"), perm
    assert not user.has_perm("changes.approve_changerequest")


def test_change_managers_run_changes_but_do_not_approve_them(user_in_role):
    user = user_in_role(Role.CHANGE_MANAGERS)
    for perm in ["add", "change", "submit", "start", "verify", "close", "cancel"]:
        assert user.has_perm(f"changes.{perm}_changerequest"), perm
    for perm in ["add_changefreeze", "delete_changefreeze", "add_standardchangetemplate"]:
        assert user.has_perm(f"changes.{perm}"), perm
    assert not user.has_perm("changes.approve_changerequest")
    assert not user.has_perm("incidents.resolve_incident")


@pytest.mark.parametrize("role", [Role.TECH_LEADS, Role.PRODUCT_OWNERS, Role.OPS_MANAGERS])
def test_approvers_approve_and_otherwise_only_read(user_in_role, role):
    user = user_in_role(role)
    assert user.has_perm("changes.approve_changerequest")
    assert not user.has_perm("changes.submit_changerequest")
    assert not user.has_perm("changes.change_changerequest")
    assert not user.has_perm("incidents.add_incident")
    # Ops Managers also tune the automation rules (§8); the other two only decide.
    extra = {"automation.change_automationrule"} if role == Role.OPS_MANAGERS else set()
    assert _group_perms(role) - {"changes.approve_changerequest"} == set(ROLE_PERMISSIONS[Role.API_READERS]) | extra
    assert user.has_perm("automation.change_automationrule") == (role == Role.OPS_MANAGERS)


def test_release_managers_drive_releases_only(user_in_role):
    user = user_in_role(Role.RELEASE_MANAGERS)
    for perm in ["add_release", "change_release", "move_release", "add_releasedeliverable", "add_deployment",
                 "change_deployment"]:
        assert user.has_perm(f"releases.{perm}"), perm
    assert not user.has_perm("changes.approve_changerequest")
    assert not user.has_perm("incidents.add_incident")


def test_api_readers_hold_only_view_permissions():
    perms = _group_perms(Role.API_READERS)
    assert perms
    assert all(perm.split(".")[1].startswith("view_") for perm in perms)
    assert "incidents.view_confidential_incident" not in perms
    assert {"incidents.view_incident", "changes.view_changerequest", "releases.view_release",
            "metrics.view_metricsnapshot", "opsdesk.view_service", "opsdesk.view_team"} <= perms


def test_user_roles_reads_the_groups_once(user_in_role, django_assert_num_queries):
    user = user_in_role(Role.SERVICE_DESK, Role.TECH_LEADS)
    with django_assert_num_queries(1):
        assert user_roles(user) == {Role.SERVICE_DESK, Role.TECH_LEADS}
        assert user_roles(user) == {Role.SERVICE_DESK, Role.TECH_LEADS}


PROCESS_PERMISSIONS = {
    "incidents.change_incidentstep": {Role.SERVICE_DESK, Role.INCIDENT_MANAGERS},
    "incidents.skip_incidentstep": {Role.INCIDENT_MANAGERS},
    "incidents.add_actionitem": {Role.INCIDENT_MANAGERS},
    "incidents.change_actionitem": {Role.INCIDENT_MANAGERS},
    "incidents.declare_major_incident": {Role.INCIDENT_MANAGERS},
    "incidents.add_statusupdate": {Role.SERVICE_DESK, Role.INCIDENT_MANAGERS},
    "incidents.change_processtemplate": {Role.INCIDENT_MANAGERS},
    "changes.add_changerequest": {Role.CHANGE_MANAGERS},  # "raise a change" from an action item
}


@pytest.mark.parametrize("perm", sorted(PROCESS_PERMISSIONS))
def test_the_incident_process_permissions_per_role(user_in_role, perm):
    for role in Role:
        assert user_in_role(role).has_perm(perm) == (role in PROCESS_PERMISSIONS[perm]), (perm, role)


def test_every_role_reads_the_process_records():
    for role in Role:
        perms = _group_perms(role)
        for model in ("processtemplate", "incidentstep", "actionitem", "statusupdate"):
            assert f"incidents.view_{model}" in perms, (role, model)
