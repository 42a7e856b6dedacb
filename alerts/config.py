"""Ready-to-paste configuration of a monitoring system for one source (shown on the source's page)."""

from __future__ import annotations

from .choices import SourceKind
from .models import AlertSource
from .selectors import ingest_url

TOKEN_PLACEHOLDER = "<the token shown when the source was created>"


def alertmanager_config(source: AlertSource, token: str | None = None) -> str:
    """The ``receivers`` entry for alertmanager.yml (route alerts to it with ``receiver: opsdesk``)."""
    return (
        "receivers:\n"
        "  - name: opsdesk\n"
        "    webhook_configs:\n"
        f"      - url: {ingest_url(source)}\n"
        "        send_resolved: true\n"
        "        max_alerts: 500\n"
        "        http_config:\n"
        "          authorization:\n"
        "            type: Bearer\n"
        f"            credentials: {token or TOKEN_PLACEHOLDER}\n"
    )


def grafana_config(source: AlertSource, token: str | None = None) -> str:
    """A Grafana contact point (file provisioning); the same values go into the UI's webhook form."""
    return (
        "apiVersion: 1\n"
        "contactPoints:\n"
        "  - orgId: 1\n"
        "    name: OpsDesk\n"
        "    receivers:\n"
        f"      - uid: opsdesk-{source.slug}\n"
        "        type: webhook\n"
        "        disableResolveMessage: false\n"
        "        settings:\n"
        f"          url: {ingest_url(source)}\n"
        "          httpMethod: POST\n"
        "          authorization_scheme: Bearer\n"
        f"          authorization_credentials: {token or TOKEN_PLACEHOLDER}\n"
    )


def generic_example(source: AlertSource, token: str | None = None) -> str:
    """A curl command posting one alert in the generic JSON."""
    return (
        f"curl -X POST {ingest_url(source)} \\\n"
        f"  -H 'Authorization: Bearer {token or TOKEN_PLACEHOLDER}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -d '{\"alerts\": [{\"fingerprint\": \"disk-db1\", \"status\": \"firing\", "
        "\"title\": \"Disk almost full on db1\", \"severity\": \"warning\", "
        f"\"service\": \"{source.default_service.slug}\", \"group\": \"db1\"}}]}}'\n"
    )


def configuration(source: AlertSource, token: str | None = None) -> tuple[str, str]:
    """(title, text) of the configuration for the source's kind (a source parses its own kind only)."""
    if source.kind == SourceKind.ALERTMANAGER:
        return "Prometheus Alertmanager (alertmanager.yml)", alertmanager_config(source, token)
    if source.kind == SourceKind.GRAFANA:
        return "Grafana contact point (provisioning YAML; the same values in the UI's webhook form)", grafana_config(
            source, token
        )
    return "Generic JSON (for example with curl)", generic_example(source, token)
