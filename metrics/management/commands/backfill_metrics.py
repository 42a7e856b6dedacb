"""``manage.py backfill_metrics --from YYYY-MM-DD --to YYYY-MM-DD``: snapshot past days."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from metrics.definitions import local_today
from metrics.services import snapshot_days

BAR_WIDTH = 30


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date: give YYYY-MM-DD.") from exc


class Command(BaseCommand):
    help = (
        "Store a MetricSnapshot for every day of [--from, --to) (--to excluded, default today). "
        "Idempotent: existing snapshots are replaced."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="First day (YYYY-MM-DD), included.")
        parser.add_argument("--to", dest="end", help="Day after the last one (YYYY-MM-DD), excluded; default today.")

    def handle(self, *args, first: str, end: str | None, **options):
        today = local_today()
        first_day = _date(first)
        end_day = _date(end) if end else today
        if first_day >= end_day:
            raise CommandError(f"--from ({first_day}) must be before --to ({end_day}); --to is excluded.")
        if end_day > today:
            raise CommandError(f"--to ({end_day}) is in the future: snapshots are for complete days, --to ≤ {today}.")

        def progress(done: int, total: int, day: date) -> None:
            filled = round(BAR_WIDTH * done / total)
            self.stdout.write(f"[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done}/{total} {day.isoformat()}")

        count = snapshot_days(first=first_day, end=end_day, progress=progress)
        self.stdout.write(self.style.SUCCESS(f"{count} snapshot(s) stored for {first_day} – {end_day} (excluded)."))
