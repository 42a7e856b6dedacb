"""``manage.py send_test_alert SOURCE``: post a realistic alert to a running OpsDesk, as the source's
monitoring system would (then ``--resolve`` to send its resolution)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone

from alerts.demo import TOKEN_FILE, read_token
from alerts.models import AlertSource
from alerts.samples import delivery

TIMEOUT_SECONDS = 15


class Command(BaseCommand):
    help = (
        "Post a realistic test alert (in the source's own format: Alertmanager, Grafana or generic JSON) to the "
        "ingest endpoint of a running OpsDesk, with the source's token; prints the answer."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="The slug of the alert source (its ingest URL's last part).")
        parser.add_argument(
            "--token",
            help="The source's token (default: $OPSDESK_ALERT_TOKEN, else the demo token file for the demo source).",
        )
        parser.add_argument("--url",
                            help=f"OpsDesk's base URL (default: OPSDESK_BASE_URL, {settings.OPSDESK_BASE_URL}).")
        parser.add_argument("--resolve", action="store_true", help="Send the test alert's resolution instead.")
        parser.add_argument("--alertname", default="OpsDeskTestAlert", help="The alert's name (its group).")
        parser.add_argument("--service", default="", help="The service label (a service slug) to send.")
        parser.add_argument("--severity", default="warning", help="The severity label to send.")
        parser.add_argument("--instances", type=int, default=1, help="How many alerts (instances) in the group.")

    def handle(self, *args, source: str, token: str | None, url: str | None, resolve: bool, alertname: str,
               service: str, severity: str, instances: int, **options):
        known = AlertSource.objects.filter(slug=source).first()
        if known is None:
            raise CommandError(f"No alert source {source!r} (see the admin's Alert sources).")
        token = token or os.environ.get("OPSDESK_ALERT_TOKEN") or read_token(source)
        if not token:
            raise CommandError(
                f"Give the source's token with --token or $OPSDESK_ALERT_TOKEN (it was shown once, when the source "
                f"was created; {TOKEN_FILE} holds the demo source's)."
            )
        if not 1 <= instances <= 500:
            raise CommandError("--instances takes 1 to 500.")
        now = timezone.now().replace(microsecond=0)
        starts_at = now - timedelta(minutes=1)  # a resolution matches the firing alert by its fingerprint
        body = delivery(
            known.kind,
            alertname=alertname,
            instances=[f"test-host-{n}.example.org" for n in range(1, instances + 1)],
            starts_at=starts_at,
            service=service or known.default_service.slug,
            severity=severity,
            summary="OpsDesk test alert on {instance}",
            description="Sent by manage.py send_test_alert to check the connection; resolve it with --resolve.",
            status="resolved" if resolve else "firing",
            ends_at=now if resolve else None,
        )
        target = (url or settings.OPSDESK_BASE_URL).rstrip("/") + reverse("alerts-ingest", args=[source])
        if not target.startswith(("http://", "https://")):
            raise CommandError(f"{target} is not an http(s) URL.")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            target, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                status, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read().decode()
        except urllib.error.URLError as exc:
            raise CommandError(f"Could not reach {target}: {exc.reason}. Is OpsDesk running there?") from exc
        self.stdout.write(f"POST {target} → {status}")
        self.stdout.write(answer)
        if status != 202:
            raise CommandError(f"OpsDesk refused the test alert ({status}).")
