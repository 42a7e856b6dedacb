"""One parser module per payload format (§9), all producing ``base.Parsed``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..choices import SourceKind
from . import alertmanager, generic, grafana
from .base import AlertError, Parsed, ParsedAlert, PayloadError, Rejected, load_json

__all__ = ["AlertError", "Parsed", "ParsedAlert", "PayloadError", "Rejected", "load_json", "parse"]


def parse(kind: str, payload: Any, *, service_label: str, received_at: datetime) -> Parsed:
    """Parse ``payload`` in the format of a source of ``kind`` (the generic format's ``service`` field
    becomes the ``service_label`` label)."""
    if kind == SourceKind.ALERTMANAGER:
        return alertmanager.parse(payload)
    if kind == SourceKind.GRAFANA:
        return grafana.parse(payload)
    return generic.parse(payload, service_label=service_label, received_at=received_at)
