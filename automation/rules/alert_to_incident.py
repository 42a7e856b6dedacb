"""``alert_to_incident``: monitoring alerts open, join, reopen and resolve incidents (§9)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alerts import mapping
from alerts.choices import AlertStatus
from alerts.models import Alert, AlertGroup, AlertSource
from incidents import services as incident_services
from incidents.choices import OPEN_STATES, IncidentState
from incidents.models import Incident
from opsdesk import events

from ..choices import RuleKey
from ..registry import Acted, Rule, register
from ..text import incident_label, join_words

ALL_RESOLVED = "All alerts resolved."
AUTO_RESOLVABLE = (IncidentState.DETECTED, IncidentState.RESPONDING)
NOTED_ALERTS = 10


def _names(alerts: Sequence[Alert]) -> str:
    listed = [f"{alert.title} ({alert.fingerprint})" for alert in alerts[:NOTED_ALERTS]]
    if len(alerts) > NOTED_ALERTS:
        listed.append(f"{len(alerts) - NOTED_ALERTS} more")
    return join_words(listed)


def _count(alerts: Sequence, word: str = "alert") -> str:
    return f"{len(alerts)} {word}{'s' if len(alerts) != 1 else ''}"


@register
class AlertToIncident(Rule):
    key = RuleKey.ALERT_TO_INCIDENT
    title = RuleKey.ALERT_TO_INCIDENT.label
    trigger = events.AlertReceived
    summary = (
        "Firing alerts attach to the open incident of their group, else reopen the incident their fingerprint "
        "had if it was resolved within the source's `reopen_minutes`, else open an incident (title, severity, "
        "service and start from the alerts; detected when received). Resolved alerts are noted on their "
        "incident, and when all of its alerts are resolved and the source has `auto_resolve`, an incident "
        "still detected or responding is resolved by the system."
    )

    def subject(self, event: events.AlertReceived) -> AlertGroup:
        return AlertGroup.objects.select_related("source").get(pk=event.group_id)

    def run(self, event: events.AlertReceived, params: dict):
        # The group's row lock (also taken by the ingest): one delivery of a group at a time, one incident.
        group = AlertGroup.objects.select_for_update(of=("self",)).get(pk=event.group_id)
        source = AlertSource.objects.select_related("default_service").get(pk=group.source_id)
        alerts = list(
            Alert.objects.filter(pk__in=[*event.firing, *event.resolved]).select_related("previous__incident")
        )
        firing_ids, resolved_ids = set(event.firing), set(event.resolved)
        firing = mapping.by_start(
            [a for a in alerts if a.pk in firing_ids and a.status == AlertStatus.FIRING and a.incident_id is None]
        )
        resolved = [a for a in alerts if a.pk in resolved_ids and a.status == AlertStatus.RESOLVED and a.incident_id]
        if not firing and not resolved:
            return None  # handled already (a replay, or a later delivery overtook this one)
        said: list[str] = []
        created: list[Incident] = []
        changed: dict[int, Incident] = {}
        if firing:
            incident, how = self._take_firing(group, source, firing, event)
            if how == "opened":
                created.append(incident)
            else:
                changed[incident.pk] = incident
            said.append(f"{how.capitalize()} {incident_label(incident)} for {_count(firing)}")
        if resolved:
            for incident, note in self._take_resolved(source, resolved, event):
                if incident.pk not in {i.pk for i in created}:
                    changed[incident.pk] = incident
                said.append(note)
        detail = "; ".join(said) + "."
        return Acted(detail=detail[0].upper() + detail[1:], created=created, changed=list(changed.values()))

    # --- firing ------------------------------------------------------------------------

    def _take_firing(self, group: AlertGroup, source: AlertSource, firing: list[Alert], event):
        """Attach, reopen or open; returns the incident and which of the three it was."""
        incident = Incident.objects.filter(pk=group.incident_id, state__in=OPEN_STATES).first()
        how = "attached to"
        if incident is not None:
            incident_services.incident_add_note(
                incident=incident, by=None, at=event.at,
                body=f"{_count(firing).capitalize()} of the group fired: {_names(firing)}.",
            )
        else:
            incident = self._reopen(source, firing, event)
            how = "reopened"
        if incident is None:
            incident = self._open(source, firing, event)
            how = "opened"
        Alert.objects.filter(pk__in=[alert.pk for alert in firing]).update(incident=incident)
        if group.incident_id != incident.pk:
            group.incident = incident
            group.save(update_fields=["incident"])
        return incident, how

    def _reopen(self, source: AlertSource, firing: list[Alert], event) -> Incident | None:
        """The incident one of these fingerprints had, resolved within ``reopen_minutes``: reopened."""
        if not source.reopen_minutes:
            return None
        since = event.at - timedelta(minutes=source.reopen_minutes)
        candidates = [
            alert.previous.incident for alert in firing
            if alert.previous is not None and alert.previous.incident is not None
            and alert.previous.incident.state == IncidentState.RESOLVED
            and alert.previous.incident.resolved_at is not None and alert.previous.incident.resolved_at >= since
        ]
        if not candidates:
            return None
        incident = max(candidates, key=lambda i: i.resolved_at)
        again = next(a for a in firing if a.previous.incident_id == incident.pk)
        minutes = max(0, int((event.at - incident.resolved_at).total_seconds() // 60))
        reopened = incident_services.incident_transition(
            instance=incident, name="reopen", by=None, at=event.at,
            comment=f"{again.title} ({again.fingerprint}) fired again {minutes} min after the incident was "
            f"resolved (within the {source.reopen_minutes} min of {source.name}).",
        )
        if len(firing) > 1:
            incident_services.incident_add_note(
                incident=reopened, by=None, at=event.at,
                body=f"{_count(firing).capitalize()} fired again: {_names(firing)}.",
            )
        return reopened

    def _open(self, source: AlertSource, firing: list[Alert], event) -> Incident:
        service, service_note = mapping.service_for(source, firing)
        return incident_services.incident_create(
            by=None,
            created_by_rule=self.key,
            title=mapping.incident_title(firing),
            description=mapping.incident_description(source, firing, service_note),
            severity=mapping.highest_severity(source, firing),
            service=service,
            started_at=mapping.started_at(firing, event.at),
            detected_at=event.at,
            at=event.at,
        )

    # --- resolved ------------------------------------------------------------------------

    def _take_resolved(self, source: AlertSource, resolved: list[Alert], event):
        """Note the resolved alerts on each incident; resolve it when none of its alerts fires any more."""
        by_incident: dict[int, list[Alert]] = {}
        for alert in resolved:
            by_incident.setdefault(alert.incident_id, []).append(alert)
        still_firing = set(
            Alert.objects.filter(incident__in=list(by_incident), status=AlertStatus.FIRING)
            .values_list("incident_id", flat=True)
            .distinct()
        )
        for incident in Incident.objects.filter(pk__in=list(by_incident)).order_by("pk"):
            alerts = by_incident[incident.pk]
            incident_services.incident_add_note(
                incident=incident, by=None, at=event.at, body=f"Resolved: {_names(alerts)}.",
            )
            note = f"noted {_count(alerts, 'resolved alert')} on {incident_label(incident)}"
            if incident.pk not in still_firing and source.auto_resolve and incident.state in AUTO_RESOLVABLE:
                incident = incident_services.incident_transition(
                    instance=incident, name="resolve", by=None, at=event.at, comment=ALL_RESOLVED,
                    resolution_summary=incident.resolution_summary or ALL_RESOLVED,
                )
                note += f" and resolved it ({ALL_RESOLVED.lower().rstrip('.')})"
            yield incident, note
