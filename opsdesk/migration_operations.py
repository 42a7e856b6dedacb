"""Migration operations that change the database on PostgreSQL alone."""

from __future__ import annotations


class OnPostgreSQLOnly:
    """Mixed into a migration operation (before it): the operation changes the schema only on
    PostgreSQL, while the migration state carries it on every database, so that ``makemigrations``
    sees the models and the migrations agree (full-text GIN indexes, a collation that SQLite's
    byte comparison already is)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
