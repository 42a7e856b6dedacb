"""``{% incident_alerts incident %}``: the alerts of an incident on its page.

The incident page loads this tag rather than importing the alerts app (which
reads the incidents app, not the other way round).
"""

from __future__ import annotations

from django import template

from ..selectors import incident_alerts

register = template.Library()

SHOWN = 50
LINK_ANNOTATIONS = (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard"), ("panel_url", "Panel"))


def _links(alert) -> list[tuple[str, str]]:
    links = []
    if alert.generator_url.startswith(("http://", "https://")):
        links.append(("Source", alert.generator_url))
    for key, label in LINK_ANNOTATIONS:
        url = str(alert.annotations.get(key) or "")
        if url.startswith(("http://", "https://")):
            links.append((label, url))
    return links


@register.inclusion_tag("alerts/partials/incident_alerts.html", takes_context=True)
def incident_alerts_panel(context, incident):
    alerts = incident_alerts(incident, limit=SHOWN + 1)
    shown = alerts[:SHOWN]
    for alert in shown:
        alert.links = _links(alert)
        alert.label_items = sorted((k, v) for k, v in alert.labels.items() if k != "alertname")
    total = len(alerts) if len(alerts) <= SHOWN else incident.alerts.count()
    firing = sum(1 for alert in alerts if alert.status == "firing") if total <= SHOWN else (
        incident.alerts.filter(status="firing").count()
    )
    return {
        "user": context.get("user"), "perms": context.get("perms"), "incident": incident,
        "alerts": shown, "total": total, "firing": firing, "more": total - len(shown),
    }
