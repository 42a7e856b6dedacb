"""Realistic deliveries of each format, built the way the monitoring tools build them.

Used by the demo data, ``manage.py send_test_alert`` and the benchmark.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from .choices import SourceKind

GO_ZERO = "0001-01-01T00:00:00Z"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def label_fingerprint(labels: dict[str, str]) -> str:
    """A 16-hex fingerprint of a label set (Alertmanager hashes the labels likewise)."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def alertmanager_delivery(
    *,
    alertname: str,
    instances: list[str],
    starts_at: datetime,
    service: str = "",
    severity: str = "warning",
    summary: str = "",
    description: str = "",
    status: str = "firing",
    ends_at: datetime | None = None,
    job: str = "node",
    prometheus: str = "http://prometheus.example.org:9090",
) -> dict:
    """An Alertmanager webhook (version 4) for one group (``alertname``), one alert per instance."""
    common = {"alertname": alertname, "job": job, "severity": severity, **({"service": service} if service else {})}
    alerts = []
    for instance in instances:
        labels = {**common, "instance": instance}
        alerts.append({
            "status": status,
            "labels": labels,
            "annotations": {
                "summary": (summary or f"{alertname} on {{instance}}").replace("{instance}", instance),
                "description": (description or f"{alertname} has fired for {{instance}}.").replace(
                    "{instance}", instance
                ),
                "runbook_url": f"https://wiki.example.org/runbooks/{alertname.lower()}",
            },
            "startsAt": iso(starts_at),
            "endsAt": iso(ends_at) if status == "resolved" and ends_at else GO_ZERO,
            "generatorURL": f"{prometheus}/graph?g0.expr=ALERTS%7Balertname%3D%22{alertname}%22%7D&g0.tab=1",
            "fingerprint": label_fingerprint(labels),
        })
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsdesk",
        "groupLabels": {"alertname": alertname},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": alerts,
    }


def grafana_delivery(**kwargs) -> dict:
    """Grafana's webhook contact point: Alertmanager's shape with ``orgId``, ``title``, ``message``, links."""
    body = alertmanager_delivery(prometheus="https://grafana.example.org", **kwargs)
    body.update({"version": "1", "orgId": 1, "state": "alerting" if body["status"] == "firing" else "ok",
                 "title": f"[{body['status'].upper()}:{len(body['alerts'])}] {kwargs['alertname']}",
                 "message": "Sent by OpsDesk's send_test_alert."})
    for alert in body["alerts"]:
        alert["dashboardURL"] = "https://grafana.example.org/d/opsdesk-test"
        alert["panelURL"] = "https://grafana.example.org/d/opsdesk-test?viewPanel=1"
        alert["silenceURL"] = "https://grafana.example.org/alerting/silence/new"
        alert["values"] = {"A": 97.5}
    return body


def generic_delivery(*, alertname: str, instances: list[str], starts_at: datetime, service: str = "",
                     severity: str = "warning", summary: str = "", description: str = "", status: str = "firing",
                     ends_at: datetime | None = None, **_ignored) -> dict:
    """The generic JSON: one alert per instance, grouped by ``alertname``."""
    return {"alerts": [
        {
            "fingerprint": label_fingerprint({"alertname": alertname, "instance": instance}),
            "status": status,
            "title": (summary or f"{alertname} on {{instance}}").replace("{instance}", instance),
            "description": (description or "").replace("{instance}", instance),
            "severity": severity,
            **({"service": service} if service else {}),
            "starts_at": iso(starts_at),
            **({"ends_at": iso(ends_at)} if status == "resolved" and ends_at else {}),
            "labels": {"alertname": alertname, "instance": instance},
            "group": alertname,
        }
        for instance in instances
    ]}


def delivery(kind: str, **kwargs) -> dict:
    """A delivery in the format of a source of ``kind``."""
    builder = {SourceKind.ALERTMANAGER: alertmanager_delivery, SourceKind.GRAFANA: grafana_delivery}.get(
        kind, generic_delivery
    )
    return builder(**kwargs)
