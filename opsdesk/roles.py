"""Role groups (§6) and exactly the model permissions each carries.

The groups are created by a data migration (opsdesk/migrations); after every
``migrate`` their permissions are set to exactly this table, so this file is
the one place that says who may do what.
"""

from __future__ import annotations

from django.contrib.auth.models import Group

from .choices import Role

_READ = [
    "opsdesk.view_service",
    "opsdesk.view_team",
    "opsdesk.view_transitionlog",
    "incidents.view_incident",
    "incidents.view_incidentnote",
    "incidents.view_slapolicy",
    "incidents.view_businesscalendar",
    "incidents.view_processtemplate",
    "incidents.view_incidentstep",
    "incidents.view_actionitem",
    "incidents.view_statusupdate",
    "incidents.view_satisfactionsurvey",
    "changes.view_changerequest",
    "changes.view_changeapproval",
    "changes.view_changefreeze",
    "changes.view_standardchangetemplate",
    "changes.view_maintenancewindow",
    "changes.view_cabmeeting",
    "releases.view_release",
    "releases.view_releasedeliverable",
    "releases.view_releasecheck",
    "releases.view_deployment",
    "metrics.view_metricsnapshot",
    "automation.view_automationrule",
    "automation.view_automationrun",
    "alerts.view_alertsource",
    "alerts.view_alert",
]

_APPROVER = [*_READ, "changes.approve_changerequest"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.SERVICE_DESK: [
        *_READ,
        "incidents.add_incident",
        "incidents.change_incident",
        "incidents.acknowledge_incident",
        "incidents.resolve_incident",
        "incidents.add_incidentnote",
        # The incident process (§2.1): work the checklist, keep people informed.
        "incidents.change_incidentstep",
        "incidents.add_statusupdate",
        "desk.add_attachment",
    ],
    Role.INCIDENT_MANAGERS: [
        *_READ,
        "incidents.add_incident",
        "incidents.change_incident",
        "incidents.acknowledge_incident",
        "incidents.hold_incident",
        "incidents.resume_incident",
        "incidents.resolve_incident",
        "incidents.reopen_incident",
        "incidents.close_incident",
        "incidents.cancel_incident",
        "incidents.change_severity_incident",
        "incidents.escalate_incident",
        "incidents.view_confidential_incident",
        "incidents.add_incidentnote",
        "incidents.change_slapolicy",
        "incidents.add_businesscalendar",
        "incidents.change_businesscalendar",
        "incidents.delete_businesscalendar",
        "alerts.add_alertsource",
        "alerts.change_alertsource",
        # The incident process (§2.1): they own it — skip optional steps, run the review,
        # declare major incidents, keep the template.
        "incidents.change_incidentstep",
        "incidents.skip_incidentstep",
        "incidents.add_actionitem",
        "incidents.change_actionitem",
        "incidents.declare_major_incident",
        "incidents.add_statusupdate",
        "incidents.change_processtemplate",
        # Attachments: add them, and remove other people's on incidents.
        "desk.add_attachment",
        "desk.delete_attachment",
    ],
    Role.CHANGE_MANAGERS: [
        *_READ,
        "changes.add_changerequest",
        "changes.change_changerequest",
        "changes.submit_changerequest",
        "changes.start_changerequest",
        "changes.verify_changerequest",
        "changes.close_changerequest",
        "changes.cancel_changerequest",
        "changes.add_changefreeze",
        "changes.change_changefreeze",
        "changes.delete_changefreeze",
        "changes.add_standardchangetemplate",
        "changes.change_standardchangetemplate",
        "changes.delete_standardchangetemplate",
        "changes.override_risk_changerequest",
        "changes.add_maintenancewindow",
        "changes.change_maintenancewindow",
        "changes.delete_maintenancewindow",
        "changes.add_cabmeeting",
        "changes.change_cabmeeting",
        # Attachments: add them, and remove other people's on changes.
        "desk.add_attachment",
        "desk.delete_attachment",
    ],
    Role.TECH_LEADS: _APPROVER,
    Role.PRODUCT_OWNERS: _APPROVER,
    Role.OPS_MANAGERS: [*_APPROVER, "automation.change_automationrule"],
    Role.RELEASE_MANAGERS: [
        *_READ,
        "releases.add_release",
        "releases.change_release",
        "releases.move_release",
        "releases.add_releasedeliverable",
        "releases.add_releasecheck",
        "releases.change_releasecheck",
        "releases.add_deployment",
        "releases.change_deployment",
    ],
    Role.API_READERS: list(_READ),
}


def create_role_groups(group_model=Group) -> None:
    """Create the eight role groups (used by the data migration)."""
    for role in Role:
        group_model.objects.get_or_create(name=role.value)


def sync_role_permissions(sender=None, **kwargs) -> None:
    """Give each role group exactly the permissions of ``ROLE_PERMISSIONS`` (post_migrate)."""
    from django.apps import apps
    from django.contrib.auth.models import Permission

    # post_migrate fires once per app, and each app's permissions are created by
    # its own signal: act on the last app's, when every permission exists.
    if sender is not None and sender.label != list(apps.get_app_configs())[-1].label:
        return
    # The groups come from the data migration; a flush (as in transactional tests)
    # empties the table and emits post_migrate again, so make sure they exist.
    create_role_groups()
    wanted = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    by_name = {
        f"{app}.{codename}": pk
        for pk, app, codename in Permission.objects.values_list(
            "pk", "content_type__app_label", "codename"
        )
        if f"{app}.{codename}" in wanted
    }
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        group.permissions.set([by_name[p] for p in perms if p in by_name])


def user_roles(user) -> set[str]:
    """The role names a user belongs to (one query, cached on the user object)."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_opsdesk_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._opsdesk_roles = cached
    return cached
