"""SQLite's counterpart of ``incident_open_queue`` (bench/NOTES.md, "The queue's sort on SQLite").

PostgreSQL sorts the open queue from ``incident_open_queue``, a partial index that INCLUDEs every
column the queue's order and its views read. SQLite has no INCLUDE and does not match a partial
index against the bound parameters of ``state IN (...)``: it read each open row from the table.
This index holds the same columns, the state first; PostgreSQL does not get it."""

from django.db import migrations

NAME = "incident_queue_sqlite"
CREATE = (
    f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "incidents_incident" ("state", "acknowledged_at", '
    '"response_breached", "resolution_breached", "response_due", "resolution_due", "severity", "detected_at", '
    '"id", "assignee_id", "team_id", "confidential", "reporter_id")'
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0017_major_banner_index"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
