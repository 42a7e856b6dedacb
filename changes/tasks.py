"""Celery tasks of the change process: thin, named, idempotent adapters over the conflict rules."""

from __future__ import annotations

from celery import shared_task

from . import conflicts


@shared_task(name="changes.refresh_conflicts")
def refresh_conflicts() -> int:
    """Re-check the stored conflicts of every open change whose window has not ended (safe to run twice)."""
    return conflicts.refresh_open_changes()
