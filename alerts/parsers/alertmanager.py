"""Prometheus Alertmanager's webhook payload, version 4.

``{"version": "4", "status", "receiver", "groupKey", "truncatedAlerts", "groupLabels",
"commonLabels", "commonAnnotations", "externalURL", "alerts": [{"status", "labels",
"annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}]}`` — one group per
delivery. Grafana's contact point sends the same shape (see ``grafana.py``).
"""

from __future__ import annotations

from typing import Any

from .base import (
    AlertError,
    Parsed,
    ParsedAlert,
    PayloadError,
    alert_list,
    fingerprint_of,
    group_label,
    optional_text,
    parse_each,
    parse_time,
    require_object,
    status_of,
    string_map,
)

VERSION = "4"


def parse_group(payload: dict) -> tuple[str, str]:
    """The delivery's group key and a readable label (from ``groupLabels``)."""
    key = payload.get("groupKey")
    if key is not None and not isinstance(key, str):
        raise PayloadError({"groupKey": "Must be text."})
    labels = payload.get("groupLabels")
    if labels is not None and not isinstance(labels, dict):
        raise PayloadError({"groupLabels": "Must be an object of name → value."})
    label = group_label({str(k): str(v) for k, v in (labels or {}).items()})
    return key or "", label


def parse_alert(index: int, raw: dict, *, group_key: str, label: str) -> ParsedAlert:
    path = f"alerts[{index}]"
    labels = string_map(raw.get("labels"), f"{path}.labels", required=True)
    fingerprint = fingerprint_of(raw.get("fingerprint"), f"{path}.fingerprint", labels=labels)
    status = status_of(raw.get("status"), f"{path}.status")
    starts_at = parse_time(raw.get("startsAt"), f"{path}.startsAt", required=True)
    ends_at = parse_time(raw.get("endsAt"), f"{path}.endsAt", required=False)
    if ends_at is not None and ends_at < starts_at:
        raise AlertError(f"{path}.endsAt", "Is before startsAt.")
    return ParsedAlert(
        fingerprint=fingerprint,
        status=status,
        labels=labels,
        annotations=string_map(raw.get("annotations"), f"{path}.annotations"),
        starts_at=starts_at,
        ends_at=ends_at if status == "resolved" else None,
        generator_url=optional_text(raw.get("generatorURL"), f"{path}.generatorURL", limit=2000),
        # No group key: each alert is its own group (§9).
        group_key=group_key or f"fingerprint:{fingerprint}",
        group_label=label or labels.get("alertname") or fingerprint,
    )


def parse(payload: Any, *, version: str | None = VERSION) -> Parsed:
    """Parse an Alertmanager (``version`` "4") or Grafana (``version`` None: not checked) payload."""
    payload = require_object(payload)
    if version is not None and payload.get("version") not in (None, version):
        raise PayloadError({"version": f"Only version {version} of the Alertmanager webhook is understood."})
    raw_alerts = alert_list(payload)
    group_key, label = parse_group(payload)
    return parse_each(
        raw_alerts,
        lambda index, raw: parse_alert(index, raw, group_key=group_key, label=label),
    )
