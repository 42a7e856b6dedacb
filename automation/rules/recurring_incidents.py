"""``recurring_incidents_to_change``: a service that keeps failing gets a change to fix the cause."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from rest_framework import serializers

from changes import services as change_services
from changes.choices import ChangeType
from changes.models import ChangeRequest
from incidents.choices import IncidentState
from incidents.models import Incident
from opsdesk import events
from opsdesk.models import Service
from opsdesk.notifications import email, notify, webhook
from opsdesk.workflow import log_transition

from ..choices import RuleKey
from ..registry import Acted, Rule, RuleFailure, register
from ..text import incident_label, incidents_text


def requester_for(service: Service):
    """Who requests the change: the lead of the team that owns the service (None when it has none).

    A change needs an accountable person; the rule does not make one up (an admin
    account is not one), so without a lead it fails and says so in the run log.
    """
    team = service.owner_team
    if team is not None and team.lead is not None and team.lead.is_active:
        return team.lead
    return None


def change_url(change: ChangeRequest) -> str:
    return f"{settings.OPSDESK_BASE_URL.rstrip('/')}/changes/{change.pk}/"


@register
class RecurringIncidentsToChange(Rule):
    key = RuleKey.RECURRING_INCIDENTS_TO_CHANGE
    title = RuleKey.RECURRING_INCIDENTS_TO_CHANGE.label
    trigger = events.IncidentCreated
    summary = (
        "An incident logged on a service with at least `count` incidents (not cancelled) detected within "
        "`days` opens a draft normal change linked to them, and the service's team is told; later incidents "
        "on that service attach to that change while it is open (draft, submitted, approved, in progress, "
        "verifying) instead of opening another."
    )

    class Params(serializers.Serializer):
        count = serializers.IntegerField(
            min_value=2, max_value=100, default=3, help_text="Incidents on one service that make it recurring."
        )
        days = serializers.IntegerField(
            min_value=1, max_value=365, default=7, help_text="Within this many days (ending at the new incident)."
        )

    def subject(self, event: events.IncidentCreated) -> Incident:
        return Incident.objects.get(pk=event.incident_id)

    def run(self, event: events.IncidentCreated, params: dict):
        incident = Incident.objects.get(pk=event.incident_id)
        if incident.state == IncidentState.CANCELLED:
            return None
        # The service's row lock serialises two incidents logged at once: one change, never two.
        service = (
            Service.objects.select_for_update(of=("self",)).select_related("owner_team__lead").get(pk=incident.service_id)
        )
        open_change = (
            ChangeRequest.objects.filter(
                created_by_rule=self.key,
                recurring_service=service,
                state__in=change_services.INCIDENT_COLLECTING_STATES,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if open_change is not None:
            return self._attach(incident, open_change, service, event)
        window_start = incident.detected_at - timedelta(days=params["days"])
        cluster = list(
            Incident.objects.filter(
                service=service, detected_at__gte=window_start, detected_at__lte=incident.detected_at
            )
            .exclude(state=IncidentState.CANCELLED)
            .order_by("detected_at", "pk")
            .only("pk", "number", "confidential")
        )
        if incident.pk not in {i.pk for i in cluster}:
            cluster.append(incident)
        if len(cluster) < params["count"]:
            return None  # not (yet) recurring: nothing to record
        return self._open(incident, cluster, service, params, event)

    def _attach(self, incident: Incident, change: ChangeRequest, service: Service, event) -> Acted:
        label = incident_label(incident)
        change_services.change_link_incidents(
            change=change, by=None, incidents=[incident],
            comment=f"{label} on {service.name} attached by rule {self.key}.", at=event.at,
        )
        return Acted(
            detail=f"Attached {label} to {change.number}, the open change for recurring incidents on "
            f"{service.name} ({change.get_state_display().lower()}).",
            changed=[change],
        )

    def _open(self, incident: Incident, cluster: list[Incident], service: Service, params: dict, event) -> Acted:
        requester = requester_for(service)
        if requester is None:
            owner = f"its team {service.owner_team.name} has no active lead" if service.owner_team else (
                "no team owns it"
            )
            raise RuleFailure(
                f"No one can request the change for recurring incidents on {service.name}: {owner}. "
                "Give the service an owner team with a lead."
            )
        listed = incidents_text(cluster)
        summary = f"{len(cluster)} incidents on {service.name} within {params['days']} days ({listed})"
        change = change_services.change_create(
            by=None,
            requester=requester,
            at=event.at,
            created_by_rule=self.key,
            recurring_service=service,
            title=f"Recurring incidents on {service.name}"[:200],
            description=f"{summary}. Find the underlying problem and plan a fix.",
            change_type=ChangeType.NORMAL,  # the risk follows the score until the questionnaire is answered
            implementer=service.owner_team,
            services=[service],
            incidents=[i.pk for i in cluster],
        )
        log_transition(
            obj=change, name="create", from_state="", to_state=change.state, by=None,
            comment=f"Created by rule {self.key}: {summary}.", at=event.at,
        )
        team = service.owner_team
        if team is not None:
            notify(
                recipients=[email(team.email), webhook(team.webhook_url)],
                subject=f"{change.number}: recurring incidents on {service.name}",
                body=f"{summary}. A draft change {change.number} was opened to fix the cause.\n{change_url(change)}",
                dedupe_key=f"change:{change.pk}:recurring",
                about=change,
            )
        return Acted(detail=f"Opened {change.number} for {summary}.", created=[change])
