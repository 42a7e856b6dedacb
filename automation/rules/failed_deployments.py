"""``failed_deployment_to_incident``: a failed deployment opens one incident."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from incidents import services as incident_services
from incidents.choices import Severity
from opsdesk import events
from releases import services as release_services
from releases.choices import DeploymentStatus
from releases.models import Deployment

from ..choices import RuleKey
from ..registry import Acted, Rule, RuleFailure, Skipped, register


@register
class FailedDeploymentToIncident(Rule):
    key = RuleKey.FAILED_DEPLOYMENT_TO_INCIDENT
    title = RuleKey.FAILED_DEPLOYMENT_TO_INCIDENT.label
    trigger = events.DeploymentFailed
    summary = (
        "A deployment recorded as failed opens one incident of `severity` on the release's first service, "
        "caused by the release, detected when the deployment failed; the deployment links to it."
    )

    class Params(serializers.Serializer):
        severity = serializers.ChoiceField(
            choices=Severity.choices, default=Severity.HIGH, help_text="Severity of the incident opened."
        )

    def subject(self, event: events.DeploymentFailed) -> Deployment:
        return Deployment.objects.select_related("release").get(pk=event.deployment_id)

    def subject_number(self, subject: Deployment) -> str:
        return f"{subject.release.number} → {subject.environment}"

    def run(self, event: events.DeploymentFailed, params: dict):
        # The deployment's row lock: saved failed twice, or concurrently, it still opens one incident.
        deployment = Deployment.objects.select_for_update(of=("self",)).select_related("release", "incident").get(
            pk=event.deployment_id
        )
        if deployment.status != DeploymentStatus.FAILED:
            return None
        if deployment.incident_id is not None:
            return Skipped(f"{deployment.incident.number} was already opened for this deployment.")
        release = deployment.release
        service = release.services.order_by("id").first()
        if service is None:
            raise RuleFailure(f"{release.number} has no service to open the incident against.")
        failed_at = deployment.finished_at or event.at
        version = f" {release.version}" if release.version else ""
        incident = incident_services.incident_create(
            by=None,
            created_by_rule=self.key,
            title=f"Deployment of {release.number} to {deployment.environment} failed",
            severity=params["severity"],
            service=service,
            caused_by_release=release,
            started_at=failed_at,
            detected_at=failed_at,
            at=event.at,
            description=(
                f"The deployment of {release.number} ({release.name}{version}) to {deployment.environment}, "
                f"started {timezone.localtime(deployment.started_at):%Y-%m-%d %H:%M}, failed at "
                f"{timezone.localtime(failed_at):%Y-%m-%d %H:%M}. Opened by the automation rule {self.key}."
            ),
        )
        release_services.deployment_link_incident(deployment=deployment, incident=incident)
        return Acted(
            detail=f"Opened {incident.number} ({incident.get_severity_display().lower()}) on {service.name} for "
            f"the failed deployment of {release.number} to {deployment.environment}.",
            created=[incident],
        )
