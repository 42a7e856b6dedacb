from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert intake (§9): monitoring sources, their alerts, and the ingest endpoint."""

    name = "alerts"
    verbose_name = "Alert intake"
