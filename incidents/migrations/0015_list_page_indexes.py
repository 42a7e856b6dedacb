import django.utils.timezone
from django.db import migrations, models

# ``detected_at`` loses its own index: ``incident_detected_id`` (detected_at, id) serves every query
# it served. Dropped by name, so that SQLite does not rebuild the table for it.
DETECTED_AT_INDEX = "incidents_incident_detected_at_410bcd30"


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0014_follow_up_open_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["detected_at", "id"], name="incident_detected_id"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="incident",
                    name="detected_at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{DETECTED_AT_INDEX}"',
                    reverse_sql=f'CREATE INDEX "{DETECTED_AT_INDEX}" ON "incidents_incident" ("detected_at")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("state__in", ["detected", "responding", "on_hold"])),
                fields=["severity", "state"],
                include=(
                    "response_breached", "resolution_breached", "acknowledged_at", "response_due", "resolution_due",
                    "detected_at", "id", "assignee", "team", "confidential", "reporter",
                ),
                name="incident_open_queue",
            ),
        ),
    ]
