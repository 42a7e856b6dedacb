"""Grafana alerting's webhook contact point.

The same shape as Alertmanager's (Grafana's alerting is built on it) with
``version`` "1", plus ``orgId``, ``title``, ``state``, ``message`` and, per alert,
``silenceURL``, ``dashboardURL``, ``panelURL`` and ``values``. The dashboard, panel
and silence links are kept as annotations, so the incident links to them.
"""

from __future__ import annotations

from typing import Any

from . import alertmanager
from .base import Parsed, PayloadError, require_object

LINK_ANNOTATIONS = {"dashboardURL": "dashboard_url", "panelURL": "panel_url", "silenceURL": "silence_url"}


def _with_links(raw: Any) -> Any:
    if not isinstance(raw, dict) or not isinstance(raw.get("annotations", {}), dict):
        return raw  # the Alertmanager parser names what is wrong
    links = {
        name: raw[key].strip()[:2000]
        for key, name in LINK_ANNOTATIONS.items()
        if isinstance(raw.get(key), str) and raw[key].strip()
    }
    if not links:
        return raw
    return {**raw, "annotations": {**links, **(raw.get("annotations") or {})}}


def parse(payload: Any) -> Parsed:
    payload = require_object(payload)
    org = payload.get("orgId")
    if org is not None and (isinstance(org, bool) or not isinstance(org, int)):
        raise PayloadError({"orgId": "Must be a number."})
    if isinstance(payload.get("alerts"), list):
        payload = {**payload, "alerts": [_with_links(raw) for raw in payload["alerts"]]}
    return alertmanager.parse(payload, version=None)
