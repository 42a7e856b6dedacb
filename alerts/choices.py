"""Alert intake choices: the kinds of source and the status of an alert."""

from django.db import models


class SourceKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    GENERIC = "generic", "Generic JSON"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


# Label value → incident severity, unless a source says otherwise (§9).
DEFAULT_SEVERITY_MAP = {
    "critical": "critical",
    "high": "high",
    "error": "high",
    "warning": "medium",
    "info": "low",
}


def default_severity_map() -> dict[str, str]:
    return dict(DEFAULT_SEVERITY_MAP)
