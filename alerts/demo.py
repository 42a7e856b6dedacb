"""Demo data of the alert intake: an Alertmanager source and four days of its alerts, replayed through
the real ingest (so the ``alert_to_incident`` rule groups, reopens and auto-resolves as it would)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings

from incidents import services as incident_services
from incidents.models import Incident
from opsdesk.choices import Role

from . import services
from .choices import SourceKind
from .models import Alert
from .samples import alertmanager_delivery

TOKEN_FILE = Path(settings.BASE_DIR) / "var" / "demo-alert-token.txt"


def write_token(slug: str, token: str, path: Path | None = None) -> Path:
    """Keep the demo source's token (owner-readable) for ``manage.py send_test_alert``."""
    path = path or TOKEN_FILE  # read at call time: tests point it elsewhere
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(f"# The demo alert source's token (demo data only).\n{slug}\t{token}\n")
    return path


def read_token(slug: str, path: Path | None = None) -> str | None:
    path = path or TOKEN_FILE
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        name, token = line.split("\t", 1)
        if name == slug:
            return token.strip()
    return None


def seed(ctx) -> str:
    services_by_slug = {service.slug: service for service in ctx.services}
    platform = services_by_slug.get("identity-sso") or ctx.services[0]
    source, token = services.alert_source_create(
        by=ctx.admin, name="Prometheus Alertmanager", slug="alertmanager", kind=SourceKind.ALERTMANAGER,
        default_service=platform, default_severity="medium",
    )
    token_path = write_token(source.slug, token)
    now = ctx.now.replace(second=0, microsecond=0)
    day = timedelta(days=1)

    def at(days_ago: float, hour: int, minute: int = 0):
        return (now - days_ago * day).replace(hour=hour, minute=minute)

    def deliver(received, **kwargs):
        services.alert_ingest(source=source, payload=alertmanager_delivery(**kwargs), received_at=received)

    # 1. A latency spike on the portal: two instances, resolved after 40 minutes → auto-resolved.
    start = at(4, 10, 2)
    latency = {"alertname": "HighRequestLatency", "service": "customer-portal", "severity": "critical",
               "instances": ["portal-web-1:8080", "portal-web-2:8080"], "job": "portal",
               "summary": "p99 latency above 2 s on {instance}",
               "description": "The 99th percentile of request latency on {instance} has been above 2 s for 5 minutes."}
    deliver(start + timedelta(minutes=1), starts_at=start, **latency)
    deliver(start + timedelta(minutes=6), starts_at=start, **latency)  # Alertmanager repeats: last_seen only
    deliver(start + timedelta(minutes=41), starts_at=start, status="resolved", ends_at=start + timedelta(minutes=40),
            **latency)

    # 2. A flapping VPN probe: resolved, fires again 12 min later (reopened), resolved again.
    probe = {"alertname": "ProbeFailure", "service": "vpn", "severity": "critical", "instances": ["vpn-gw-1"],
             "job": "blackbox", "summary": "VPN gateway {instance} does not answer",
             "description": "The blackbox probe of {instance} has failed for 3 minutes."}
    first = at(3, 8, 0)
    deliver(first + timedelta(minutes=1), starts_at=first, **probe)
    deliver(first + timedelta(minutes=9), starts_at=first, status="resolved", ends_at=first + timedelta(minutes=8),
            **probe)
    again = first + timedelta(minutes=21)
    deliver(again + timedelta(minutes=1), starts_at=again, **probe)
    deliver(again + timedelta(minutes=30), starts_at=again, status="resolved",
            ends_at=again + timedelta(minutes=29), **probe)

    # 3. A full disk on the warehouse: acknowledged by the on-call engineer, one of two disks still full.
    disk = {"alertname": "NodeFilesystemAlmostFull", "service": "data-warehouse", "severity": "warning",
            "instances": ["dwh-db-1:/data", "dwh-db-2:/data"], "job": "node",
            "summary": "Filesystem {instance} is 92 % full",
            "description": "{instance} has less than 8 % space left and is filling at 1 % an hour."}
    start = at(1, 22, 15)
    deliver(start + timedelta(minutes=1), starts_at=start, **disk)
    incident = Alert.objects.filter(source=source, labels__alertname="NodeFilesystemAlmostFull").first().incident
    incident_services.incident_transition(
        instance=incident, name="acknowledge", by=ctx.user(Role.INCIDENT_MANAGERS), at=start + timedelta(minutes=12),
        comment="Looking at the warehouse's nightly load.",
    )
    partial = {**disk, "instances": ["dwh-db-2:/data"]}
    deliver(start + timedelta(hours=3), starts_at=start, status="resolved", ends_at=start + timedelta(hours=3),
            **partial)

    # 4. Targets down on the payments API: resolved, then down again three hours later (a new incident, open).
    down = {"alertname": "TargetDown", "service": "payments-api", "severity": "error",
            "instances": ["payments-api-3:9100"], "job": "payments",
            "summary": "Prometheus cannot scrape {instance}",
            "description": "{instance} has been unreachable for Prometheus for 5 minutes."}
    start = at(1, 9, 30)
    deliver(start + timedelta(minutes=1), starts_at=start, **down)
    deliver(start + timedelta(minutes=21), starts_at=start, status="resolved", ends_at=start + timedelta(minutes=20),
            **down)
    later = start + timedelta(hours=3)
    deliver(later + timedelta(minutes=1), starts_at=later, **down)

    # 5. Just now: pods crash-looping on the identity service, three alerts in one group (no service label:
    #    the source's default service).
    crash = {"alertname": "KubePodCrashLooping", "severity": "critical", "job": "kube-state-metrics",
             "instances": ["sso-api-7d9f-x2k", "sso-api-7d9f-p8m", "sso-api-7d9f-q4t"],
             "summary": "Pod {instance} is crash-looping",
             "description": "Pod {instance} (namespace identity) restarted 6 times in 10 minutes."}
    start = now - timedelta(minutes=35)
    deliver(start + timedelta(minutes=1), starts_at=start, **{**crash, "instances": crash["instances"][:2]})
    deliver(start + timedelta(minutes=6), starts_at=start, **crash)  # a third pod joins the open incident

    incidents = Incident.objects.filter(pk__in=Alert.objects.filter(source=source).values("incident"))
    resolved = incidents.filter(state="resolved").count()
    return (
        f"source {source.slug!r}: {Alert.objects.filter(source=source).count()} alerts, {incidents.count()} "
        f"incidents ({resolved} auto-resolved); its token is in {token_path}"
    )
