"""``manage.py build_metric_rollups [--refresh]``: build the metric rollups (incidents; delivery)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from metrics import rollups


class Command(BaseCommand):
    help = (
        "Rebuild the metric rollups of every day before today (one grouped query per table or family); "
        "with --refresh, only the stale days and those since the last build."
    )

    def add_arguments(self, parser):
        parser.add_argument("--refresh", action="store_true", help="Rebuild only stale and missing days.")

    def handle(self, *args, refresh: bool, **options):
        started = time.perf_counter()
        if refresh:
            days = rollups.refresh()
            self.stdout.write(f"Rebuilt {len(days)} day(s) in {time.perf_counter() - started:.1f} s.")
        else:
            rows = rollups.build()
            self.stdout.write(f"Built {rows} rollup rows in {time.perf_counter() - started:.1f} s.")
