from datetime import timedelta
from decimal import Decimal

from django.db import migrations

# The operations handbook's defaults (§2).
HANDBOOK = [
    ("critical", timedelta(minutes=15), timedelta(hours=2), "immediate"),
    ("high", timedelta(minutes=30), timedelta(hours=4), "urgent"),
    ("medium", timedelta(hours=2), timedelta(hours=8), "standard"),
    ("low", timedelta(hours=4), timedelta(hours=24), "routine"),
]


def seed(apps, schema_editor):
    SLAPolicy = apps.get_model("incidents", "SLAPolicy")
    for severity, response, resolution, level in HANDBOOK:
        SLAPolicy.objects.get_or_create(
            severity=severity,
            defaults={
                "response_time": response,
                "resolution_time": resolution,
                "notification_level": level,
                "warning_threshold": Decimal("0.75"),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
