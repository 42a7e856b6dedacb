"""Seed one row per rule of §8 (enabled, default params) and mark the records earlier
versions of OpsDesk created automatically with the rule that now owns that behaviour."""

from django.db import migrations

RULES = {
    "recurring_incidents_to_change": {"count": 3, "days": 7},
    "approved_change_to_release": {},
    "failed_deployment_to_incident": {"severity": "high"},
    "auto_assign": {"strategy": "round_robin"},
}


def seed(apps, schema_editor):
    AutomationRule = apps.get_model("automation", "AutomationRule")
    for key, params in RULES.items():
        AutomationRule.objects.get_or_create(key=key, defaults={"enabled": True, "params": params})

    ChangeRequest = apps.get_model("changes", "ChangeRequest")
    ChangeRequest.objects.filter(recurring_service__isnull=False, created_by_rule__isnull=True).update(
        created_by_rule="recurring_incidents_to_change"
    )
    Deployment = apps.get_model("releases", "Deployment")
    Incident = apps.get_model("incidents", "Incident")
    Incident.objects.filter(
        pk__in=Deployment.objects.filter(incident__isnull=False).values("incident_id"), reporter__isnull=True
    ).update(created_by_rule="failed_deployment_to_incident")
    ContentType = apps.get_model("contenttypes", "ContentType")
    TransitionLog = apps.get_model("opsdesk", "TransitionLog")
    release_type = ContentType.objects.filter(app_label="releases", model="release").first()
    if release_type is not None:
        created_for_changes = TransitionLog.objects.filter(
            content_type=release_type, transition="create", user__isnull=True,
            comment__startswith="Created for approved change",
        ).values("object_id")
        Release = apps.get_model("releases", "Release")
        Release.objects.filter(pk__in=created_for_changes).update(created_by_rule="approved_change_to_release")


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0001_initial"),
        ("changes", "0005_changerequest_created_by_rule"),
        ("incidents", "0005_incident_created_by_rule"),
        ("releases", "0003_release_created_by_rule"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
