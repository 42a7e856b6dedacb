"""``manage.py seed_demo [--if-empty | --reset]``: demo users, teams, services and 90 days of history."""

from __future__ import annotations

import importlib

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from opsdesk import demo
from opsdesk.notifications import muted

# The apps' demo modules, in the order they build on each other.
APP_SEEDS = ["incidents.demo", "changes.demo", "releases.demo", "alerts.demo", "automation.demo", "metrics.demo",
             "desk.demo"]


def replay_data_migrations(using: str = DEFAULT_DB_ALIAS) -> int:
    """Run every data migration (RunPython) again, in migration order, as a fresh ``migrate`` would.

    ``flush`` empties every table, including the rows that data migrations
    created (role groups, SLA policies); the schema and the migration records
    stay, so ``migrate`` would not recreate them. Returns how many ran.
    """
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.operations import RunPython

    connection = connections[using]
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(targets, clean_start=True)
    ran = 0
    for migration, _backwards in plan:
        operations = [op for op in migration.operations if isinstance(op, RunPython)]
        if not operations:
            continue
        state = executor.loader.project_state((migration.app_label, migration.name), at_end=False)
        with connection.schema_editor(atomic=True) as schema_editor:
            for operation in migration.operations:
                if isinstance(operation, RunPython):
                    operation.code(state.apps, schema_editor)
                    ran += 1
                else:
                    operation.state_forwards(migration.app_label, state)
    return ran


class Command(BaseCommand):
    help = (
        "Create demo users (one per role, random passwords printed once and kept in "
        "var/demo-credentials.txt), teams, services, and 90 days of incidents, changes, "
        "releases and metrics. Refuses to run twice into the same database."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--if-empty", action="store_true", help="Do nothing (exit 0, quietly) when demo data exists already."
        )
        group.add_argument(
            "--reset",
            action="store_true",
            help="Erase the WHOLE database (flush) and seed again. Everything in it is lost.",
        )

        parser.add_argument(
            "--no-logins", action="store_true",
            help="Do not print the logins (``make run`` prints them once, in its start banner).",
        )

    def handle(self, *args, if_empty: bool, reset: bool, no_logins: bool = False, **options):
        if demo.demo_data_present():
            if if_empty:
                return
            if not reset:
                raise CommandError(
                    "Demo data is already in this database (demo users exist). "
                    "Run with --reset to erase the whole database and seed again."
                )
            self.stdout.write("Erasing the database (flush) …")
            # The transition log is append-only, so nothing is deleted row by row: flush truncates.
            call_command("flush", interactive=False, verbosity=0)
            replay_data_migrations()
            from opsdesk.roles import sync_role_permissions

            sync_role_permissions()

        modules, missing = self._load_app_seeds()
        with transaction.atomic(), muted():
            ctx, logins = demo.seed_kernel()
            summaries = [
                f"{len(logins)} users, {len(ctx.teams)} teams, {len(ctx.services)} services"
            ]
            for name, module in modules:
                try:
                    label, summary = name.split(".")[0], str(module.seed(ctx))
                    summaries.append(summary if summary.startswith(f"{label}:") else f"{label}: {summary}")
                except Exception as exc:
                    raise CommandError(f"{name}.seed failed, nothing was saved: {type(exc).__name__}: {exc}") from exc
            # An app may tidy up after every app has seeded (e.g. records another app's rules created).
            for _name, module in modules:
                if callable(getattr(module, "finish", None)):
                    module.finish(ctx)
        path = demo.write_credentials(logins)

        self.stdout.write(self.style.SUCCESS("Demo data created:"))
        for line in summaries:
            self.stdout.write(f"  {line}")
        self.stdout.write("")
        if no_logins:
            self.stdout.write(f"Demo logins kept in {path} (mode 600).")
        else:
            self.stdout.write(self.style.WARNING("Demo logins (shown here once; also in " f"{path}, mode 600):"))
            self.stdout.write(demo.format_logins(logins))
        for name in missing:
            self.stderr.write(
                self.style.ERROR(f"Module {name} is missing: its demo data was NOT created (the demo is incomplete).")
            )

    def _load_app_seeds(self):
        modules, missing = [], []
        for name in APP_SEEDS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name and not name.startswith(f"{exc.name}."):
                    raise  # the module exists but something it imports does not: a real error
                missing.append(name)
                continue
            if not callable(getattr(module, "seed", None)):
                raise CommandError(f"{name} has no seed(ctx) function.")
            modules.append((name, module))
        return modules, missing
