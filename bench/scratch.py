"""Shared set-up of the benchmarks: a scratch database (name must contain "bench") and Django."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(default_sqlite: str) -> None:
    """Point Django at ``DATABASE_URL`` (default: a fresh SQLite file) and set it up.

    Refuses a database whose name does not contain "bench", since the benchmark empties it.
    """
    sys.path.insert(0, str(ROOT))
    default_url = f"sqlite:///{default_sqlite}"
    os.environ.setdefault("DATABASE_URL", default_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings.test")
    if "bench" not in os.environ["DATABASE_URL"].rsplit("/", 1)[-1]:
        sys.exit("Refusing to fill a database whose name does not contain 'bench'.")
    if os.environ["DATABASE_URL"] == default_url:
        for suffix in ("", "-wal", "-shm"):
            Path(default_sqlite + suffix).unlink(missing_ok=True)

    import django

    django.setup()
