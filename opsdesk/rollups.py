"""The kernel's hook for data derived per day from the records (the metrics rollups).

A process app that changes rows with a bulk ``UPDATE`` (no ``post_save`` signal) announces it here, by
model and ids, *after* the update; whoever keeps derived figures (``metrics.rollups``) subscribes in its
``AppConfig.ready``. The process apps never import the subscriber, and nothing here knows who listens.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

# Sent with ``sender`` = the model class and ``ids`` = the primary keys of the rows changed in bulk.
rows_updated = Signal()


def announce_bulk_update(model, ids: Iterable[int]) -> None:
    """Tell the subscribers that the rows ``ids`` of ``model`` were changed without ``save()``."""
    ids = list(ids)
    if ids:
        rows_updated.send(sender=model, ids=ids)
