"""Seed the row of the alert intake's rule, ``alert_to_incident`` (enabled; it takes no params)."""

from django.db import migrations


def seed(apps, schema_editor):
    AutomationRule = apps.get_model("automation", "AutomationRule")
    AutomationRule.objects.get_or_create(key="alert_to_incident", defaults={"enabled": True, "params": {}})


class Migration(migrations.Migration):
    dependencies = [("automation", "0002_seed_rules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
