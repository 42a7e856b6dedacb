"""The generic JSON any monitoring tool (or a script) can send.

``{"alerts": [{"fingerprint", "status", "title", "description", "severity", "service",
"starts_at", "ends_at", "labels", "group", "url"}]}``. Only ``title`` (or a
``labels.alertname``) is required: ``status`` defaults to firing, ``starts_at`` to
when it was received, ``fingerprint`` to one made from the labels and title,
``group`` to the fingerprint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import (
    AlertError,
    Parsed,
    ParsedAlert,
    alert_list,
    fingerprint_of,
    optional_text,
    parse_each,
    parse_time,
    require_object,
    status_of,
    string_map,
)


def parse_alert(index: int, raw: dict, *, received_at: datetime, service_label: str) -> ParsedAlert:
    path = f"alerts[{index}]"
    labels = string_map(raw.get("labels"), f"{path}.labels")
    annotations = string_map(raw.get("annotations"), f"{path}.annotations")
    title = optional_text(raw.get("title"), f"{path}.title", limit=200)
    if not title and not labels.get("alertname"):
        raise AlertError(f"{path}.title", "Missing: give the alert a title (or a labels.alertname).")
    description = optional_text(raw.get("description"), f"{path}.description")
    if title:
        annotations["summary"] = title
    if description:
        annotations["description"] = description
    severity = optional_text(raw.get("severity"), f"{path}.severity", limit=50)
    if severity:
        labels["severity"] = severity
    service = optional_text(raw.get("service"), f"{path}.service", limit=100)
    if service:
        labels[service_label] = service
    fingerprint = fingerprint_of(raw.get("fingerprint"), f"{path}.fingerprint", labels=labels, extra=title)
    status = status_of(raw.get("status"), f"{path}.status", default="firing")
    starts_at = parse_time(raw.get("starts_at"), f"{path}.starts_at", required=False) or received_at
    ends_at = parse_time(raw.get("ends_at"), f"{path}.ends_at", required=False)
    if ends_at is not None and ends_at < starts_at:
        raise AlertError(f"{path}.ends_at", "Is before starts_at.")
    group = raw.get("group")
    if group is not None and not isinstance(group, str | int):
        raise AlertError(f"{path}.group", "Must be text.")
    group = str(group).strip() if group is not None else ""
    return ParsedAlert(
        fingerprint=fingerprint,
        status=status,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at if status == "resolved" else None,
        generator_url=optional_text(raw.get("url") or raw.get("generator_url"), f"{path}.url", limit=2000),
        group_key=f"group:{group}" if group else f"fingerprint:{fingerprint}",
        group_label=(group or title or labels.get("alertname") or fingerprint)[:200],
    )


def parse(payload: Any, *, service_label: str, received_at: datetime) -> Parsed:
    payload = require_object(payload)
    return parse_each(
        alert_list(payload),
        lambda index, raw: parse_alert(index, raw, received_at=received_at, service_label=service_label),
    )
