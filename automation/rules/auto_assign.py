"""``auto_assign``: an incident logged without an assignee goes to a member of its team."""

from __future__ import annotations

from django.db.models import Count
from rest_framework import serializers

from incidents import services as incident_services
from incidents.choices import OPEN_STATES
from incidents.models import Incident
from incidents.selectors import incident_workers
from opsdesk import events
from opsdesk.models import Team

from ..choices import AssignStrategy, RuleKey
from ..models import RoundRobinCursor
from ..registry import Acted, Rule, Skipped, register


def pick_round_robin(team: Team, members: list) -> object:
    """The member after the one this rule assigned last in ``team`` (by user id, wrapping round)."""
    cursor, _ = RoundRobinCursor.objects.select_for_update().get_or_create(team=team)
    after = [m for m in members if cursor.last_assignee_id is not None and m.pk > cursor.last_assignee_id]
    chosen = (after or members)[0]
    cursor.last_assignee = chosen
    cursor.save(update_fields=["last_assignee", "updated_at"])
    return chosen


def pick_least_loaded(members: list) -> object:
    """The member with the fewest open incidents (ties: the lowest user id)."""
    loads = dict(
        Incident.objects.filter(assignee__in=members, state__in=OPEN_STATES)
        .values_list("assignee")
        .annotate(n=Count("pk"))
        .values_list("assignee", "n")
    )
    return min(members, key=lambda m: (loads.get(m.pk, 0), m.pk))


@register
class AutoAssign(Rule):
    key = RuleKey.AUTO_ASSIGN
    title = RuleKey.AUTO_ASSIGN.label
    trigger = events.IncidentCreated
    summary = (
        "An incident logged without an assignee is assigned to an active member of its team who works "
        "incidents (holds the permission to change them) — "
        "`round_robin` (the next member after the one assigned last) or `least_loaded` (fewest open "
        "incidents) — who is told by email; `none` leaves it unassigned."
    )

    class Params(serializers.Serializer):
        strategy = serializers.ChoiceField(
            choices=AssignStrategy.choices, default=AssignStrategy.ROUND_ROBIN, help_text="How the member is chosen."
        )

    def subject(self, event: events.IncidentCreated) -> Incident:
        return Incident.objects.get(pk=event.incident_id)

    def run(self, event: events.IncidentCreated, params: dict):
        strategy = params["strategy"]
        incident = Incident.objects.select_related("team").get(pk=event.incident_id)
        if strategy == AssignStrategy.NONE or incident.assignee_id is not None or incident.state not in OPEN_STATES:
            return None  # switched off, or a person already chose
        team = incident.team
        if team is None:
            return Skipped(f"{incident.number} has no team to assign it within.")
        Team.objects.select_for_update().filter(pk=team.pk).first()  # one assignment at a time per team
        members = list(team.members.filter(pk__in=incident_workers().values("pk")).order_by("pk"))
        if not members:
            return Skipped(
                f"The {team.name} team has no active member who works incidents to assign {incident.number} to."
            )
        if strategy == AssignStrategy.ROUND_ROBIN:
            chosen = pick_round_robin(team, members)
        else:
            chosen = pick_least_loaded(members)
        incident_services.incident_assign(
            incident=incident, by=None, assignee=chosen, comment=f"rule {self.key}", at=event.at
        )
        name = chosen.get_full_name() or chosen.get_username()
        return Acted(
            detail=f"Assigned {incident.number} to {name} of {team.name} ({AssignStrategy(strategy).label.lower()}).",
            changed=[incident],
        )
