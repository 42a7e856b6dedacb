"""Who hears about an incident, per notification level (§2), and the messages they get.

- immediate: email + webhook to the team (team address, members, lead) and the
  ``Incident Managers``; high-priority queue.
- urgent: email + webhook to the team; high-priority queue.
- standard: email to the team.
- routine: nothing at once; one daily digest email per team (``send_routine_digests``).

SLA warnings go to the level's people above and to the assignee; at the routine
level (which has no immediate recipients) to the assignee, or to the team when
nobody is assigned, so a low-severity warning is never recorded and sent to nobody.

Escalations notify the next tier by email (1: team lead, 2: ``Incident Managers``,
3: ``Ops Managers``), on the high-priority queue, whatever the level.

Confidential incidents: only ``Incident Managers``, the team (and its lead) and the
reporter are ever notified, and never through a webhook (chat channels are wide).
A level-3 escalation of a confidential incident reaches only those ``Ops Managers``
who may see it, and the ``Incident Managers`` when none may.

Every recipient list is computed with a constant number of queries (one per
group of people), whatever the size of the team or the groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from opsdesk.choices import NotificationQueue, Role
from opsdesk.models import Team
from opsdesk.notifications import Message, Recipient, email, notify, webhook

from .choices import NotificationLevel
from .models import Incident, SLAPolicy

ESCALATION_TIERS = {1: "team lead", 2: Role.INCIDENT_MANAGERS.value, 3: Role.OPS_MANAGERS.value}
MAX_ESCALATION_LEVEL = 3
HIGH_LEVELS = (NotificationLevel.IMMEDIATE, NotificationLevel.URGENT)
DIGEST_WINDOW = timedelta(hours=24)


def _muted() -> bool:
    from opsdesk import notifications

    return notifications.is_muted()


def _users():
    return get_user_model().objects.filter(is_active=True).exclude(email="")


# --- recipients prefetched for many incidents at once (the set-based sweep) ---------

_directory: ContextVar[dict | None] = ContextVar("opsdesk_notify_directory", default=None)


@contextmanager
def prefetched(teams: Iterable) -> Iterator[None]:
    """Inside this block the recipient functions below answer for ``teams`` (and the role
    groups and notification levels) from memory: five queries in all, however many
    incidents are notified."""
    from django.contrib.auth.models import Group

    teams = {team.pk: team for team in teams if team is not None}
    members: dict[int, set[str]] = defaultdict(set)
    through = Team.members.through
    for team_id, address in (
        through.objects.filter(team_id__in=list(teams), user__is_active=True)
        .exclude(user__email="").values_list("team_id", "user__email")
    ):
        members[team_id].add(address)
    leads = {}
    for team_id, address in (
        Team.objects.filter(pk__in=list(teams), lead__is_active=True).exclude(lead__email="")
        .values_list("pk", "lead__email")
    ):
        leads[team_id] = address
        members[team_id].add(address)
    groups: dict[str, set[str]] = defaultdict(set)
    for name, address in (
        Group.objects.filter(name__in=[Role.INCIDENT_MANAGERS, Role.OPS_MANAGERS], user__is_active=True)
        .exclude(user__email="").values_list("name", "user__email")
    ):
        groups[name].add(address)
    levels = dict(SLAPolicy.objects.values_list("severity", "notification_level"))
    token = _directory.set({"members": members, "leads": leads, "groups": groups, "levels": levels, "teams": teams,
                            "lists": {}})
    try:
        yield
    finally:
        _directory.reset(token)


def _once(key: tuple, build):
    """``build()``, computed once per ``key`` inside ``prefetched`` (a team's recipients are the same
    for every incident of that team, level and confidentiality), else each time."""
    directory = _directory.get()
    if directory is None:
        return build()
    lists = directory["lists"]
    if key not in lists:
        lists[key] = build()
    return lists[key]


def _shared(key: tuple, build) -> list[Recipient]:
    """``_once``, as a fresh list each time (callers may extend it)."""
    return list(_once(key, build))


def _known_team(team) -> dict | None:
    directory = _directory.get()
    return directory if directory is not None and team.pk in directory["teams"] else None


def team_emails(team) -> list[str]:
    """The team's address, its members' and its lead's (one query)."""
    if team is None:
        return []
    directory = _known_team(team)
    if directory is not None:
        return [a for a in [team.email, *sorted(directory["members"][team.pk])] if a]
    people = _users().filter(Q(teams=team) | Q(led_teams=team)).values_list("email", flat=True).distinct()
    return [a for a in [team.email, *sorted(people)] if a]


def group_emails(group: str) -> list[str]:
    """The addresses of the active members of one role group (one query)."""
    directory = _directory.get()
    if directory is not None and group in (Role.INCIDENT_MANAGERS, Role.OPS_MANAGERS):
        return sorted(directory["groups"][group])
    return sorted(set(_users().filter(groups__name=group).values_list("email", flat=True)))


def lead_email(team) -> list[str]:
    """The team lead's address, or the team's when it has no lead (one query at most)."""
    if team is None:
        return []
    directory = _known_team(team)
    if directory is not None:
        lead_address = directory["leads"].get(team.pk)
        return [lead_address] if lead_address else ([team.email] if team.email else [])
    lead = get_user_model().objects.filter(led_teams=team, is_active=True).exclude(email="").first()
    if lead is not None:
        return [lead.email]
    return [team.email] if team.email else []


def level_of(incident: Incident) -> str:
    """The notification level of the incident's severity (one query)."""
    directory = _directory.get()
    if directory is not None:
        return directory["levels"].get(incident.severity, NotificationLevel.STANDARD)
    policy = SLAPolicy.objects.filter(severity=incident.severity).only("notification_level").first()
    return policy.notification_level if policy else NotificationLevel.STANDARD


def queue_for(level: str) -> str:
    return NotificationQueue.HIGH if level in HIGH_LEVELS else NotificationQueue.DEFAULT


def event_recipients(incident: Incident, level: str) -> list[Recipient]:
    """The people told about an incident event at ``level`` (empty for routine: digest)."""
    if level == NotificationLevel.ROUTINE:
        return []
    team = incident.team
    if team is not None and _known_team(team) is not None:
        return _shared(("event", team.pk, level, bool(incident.confidential)),
                       lambda: _event_recipients(incident, level))
    return _event_recipients(incident, level)


def _event_recipients(incident: Incident, level: str) -> list[Recipient]:
    team = incident.team
    addresses = team_emails(team)
    if level == NotificationLevel.IMMEDIATE:
        addresses += group_emails(Role.INCIDENT_MANAGERS)
    recipients = [email(a) for a in addresses]
    if level in HIGH_LEVELS and team is not None and team.webhook_url and not incident.confidential:
        recipients.append(webhook(team.webhook_url))
    return list(dict.fromkeys(recipients))


def _assignee_email(incident: Incident) -> list[str]:
    """The assignee's address, when they are active and may see the incident (at most one query)."""
    from .selectors import incident_visible_to

    assignee = incident.assignee
    if assignee is None or not assignee.is_active or not assignee.email:
        return []
    return [assignee.email] if incident_visible_to(assignee, incident) else []


def warning_recipients(incident: Incident, level: str) -> list[Recipient]:
    """Who is warned that an SLA clock is at risk (see the module docstring)."""
    assignee = [email(a) for a in _assignee_email(incident)]
    if level == NotificationLevel.ROUTINE:
        return assignee or [email(a) for a in team_emails(incident.team)]
    return list(dict.fromkeys(event_recipients(incident, level) + assignee))


def _group_recipients(group: str) -> list[Recipient]:
    return _shared(("group", group), lambda: [email(a) for a in group_emails(group)])


def tier_recipients(incident: Incident, level: int) -> list[Recipient]:
    """The escalation tier ``level`` (1 lead, 2 Incident Managers, 3 Ops Managers), by email."""
    team = incident.team
    if level <= 1:
        if team is not None and _known_team(team) is not None:
            return _shared(("lead", team.pk), lambda: [email(a) for a in lead_email(team)])
        addresses = lead_email(team)
    elif level == 2:
        return _group_recipients(Role.INCIDENT_MANAGERS)
    elif not incident.confidential and _directory.get() is not None:
        return _group_recipients(Role.OPS_MANAGERS)
    else:
        managers = _users().filter(groups__name=Role.OPS_MANAGERS)
        if incident.confidential:
            allowed = Q(groups__name=Role.INCIDENT_MANAGERS) | Q(is_superuser=True)
            if incident.reporter_id is not None:
                allowed |= Q(pk=incident.reporter_id)
            if incident.team_id is not None:
                allowed |= Q(teams=incident.team_id) | Q(led_teams=incident.team_id)
            managers = managers.filter(allowed)
        addresses = sorted(set(managers.values_list("email", flat=True)))
        if not addresses and incident.confidential:
            addresses = group_emails(Role.INCIDENT_MANAGERS)
    return [email(a) for a in addresses]


def _display(incident: Incident, name: str) -> str:
    """``incident.get_<name>_display()``, looked up once per value inside ``prefetched``."""
    value = getattr(incident, name)
    return _once(("display", name, value), lambda: incident._get_FIELD_display(Incident._meta.get_field(name)))


def link(incident: Incident) -> str:
    return f"{settings.OPSDESK_BASE_URL.rstrip('/')}/incidents/{incident.pk}/"


def describe(incident: Incident) -> str:
    """The body shared by every incident notification."""
    lines = [
        f"{incident.number}: {incident.title}",
        f"Severity: {_display(incident, 'severity')}  State: {_display(incident, 'state')}",
        f"Service: {incident.service}  Team: {incident.team or '-'}",
        f"Detected: {incident.detected_at:%Y-%m-%d %H:%M %Z}",
    ]
    if incident.response_due:
        lines.append(f"Response due: {incident.response_due:%Y-%m-%d %H:%M %Z}")
    if incident.resolution_due:
        lines.append(f"Resolution due: {incident.resolution_due:%Y-%m-%d %H:%M %Z}")
    if incident.escalation_level:
        lines.append(f"Escalation level: {incident.escalation_level}")
    lines.append(link(incident))
    return "\n".join(lines)


def notify_event(incident: Incident, *, event: str, headline: str, key: str, level: str | None = None) -> int:
    """Tell the people of the incident's level about ``event``; returns rows written.

    ``key`` makes the event idempotent (each recipient hears of it once).
    """
    if _muted():
        return 0  # replaying history (demo data): do not even compute the recipients
    message = event_message(incident, headline=headline, key=key, level=level)
    if not message.recipients:
        return 0
    rows = notify(**message.as_kwargs())
    _team_notified(incident, [row.recipient for row in rows])
    return len(rows)


def event_message(incident: Incident, *, headline: str, key: str, level: str | None = None) -> Message:
    """The outbox rows ``notify_event`` writes (recipients, subject, body, queue, key)."""
    level = level or level_of(incident)
    return Message(
        recipients=event_recipients(incident, level),
        subject=f"[{_display(incident, 'severity')}] {incident.number} {headline}: {incident.title}",
        body=f"{headline}.\n\n{describe(incident)}",
        queue=queue_for(level),
        dedupe_key=f"incident:{incident.pk}:{key}",
        about=incident,
    )


def team_was_notified(incident: Incident, addresses: Iterable[str]) -> bool:
    """Whether one of ``addresses`` is the team's own (its address, a member, the lead, the webhook)."""
    if incident.team_id is None:
        return False
    team = incident.team

    def own() -> set[str]:
        return {*team_emails(team), team.webhook_url}

    return not (_once(("own", team.pk), own) if _known_team(team) else own()).isdisjoint(addresses)


def _team_notified(incident: Incident, addresses: list[str]) -> None:
    """The process step ``team_notification`` is seen done when the team's own notification is written."""
    if not addresses:
        return
    if team_was_notified(incident, addresses):
        from .choices import StepKey
        from .steps import observe

        observe(incident.pk, [StepKey.TEAM_NOTIFICATION])


def notify_warning(incident: Incident, *, headline: str, key: str) -> int:
    """Warn that an SLA clock is at risk (once per key); returns rows written."""
    if _muted():
        return 0
    return len(notify(**warning_message(incident, headline=headline, key=key).as_kwargs()))


def warning_message(incident: Incident, *, headline: str, key: str) -> Message:
    level = level_of(incident)
    return Message(
        recipients=warning_recipients(incident, level),
        subject=f"[{_display(incident, 'severity')}] {incident.number} {headline}: {incident.title}",
        body=f"{headline}.\n\n{describe(incident)}",
        queue=queue_for(level),
        dedupe_key=f"incident:{incident.pk}:{key}",
        about=incident,
    )


def notify_assignee(incident: Incident, *, assignee, by, key: str) -> int:
    """Tell a new assignee the incident is theirs (once per assignment)."""
    if _muted() or not assignee.email:
        return 0
    who = (by.get_full_name() or by.get_username()) if by is not None else "OpsDesk (automatic assignment)"
    rows = notify(
        recipients=[email(assignee.email)],
        subject=f"[{incident.get_severity_display()}] {incident.number} assigned to you: {incident.title}",
        body=f"{incident.number} was assigned to you by {who}.\n\n{describe(incident)}",
        queue=queue_for(level_of(incident)),
        dedupe_key=f"incident:{incident.pk}:{key}",
        about=incident,
    )
    return len(rows)


def notify_escalation(incident: Incident, *, level: int, reason: str) -> int:
    """Tell escalation tier ``level`` (once per incident and level)."""
    if _muted():
        return 0
    return len(notify(**escalation_message(incident, level=level, reason=reason).as_kwargs()))


def escalation_message(incident: Incident, *, level: int, reason: str) -> Message:
    return Message(
        recipients=tier_recipients(incident, level),
        subject=f"[Escalation {level}] {incident.number}: {incident.title}",
        body=f"Escalated to {ESCALATION_TIERS.get(level, level)}: {reason}\n\n{describe(incident)}",
        queue=NotificationQueue.HIGH,
        dedupe_key=f"incident:{incident.pk}:escalation:{level}",
        about=incident,
    )


def routine_severities() -> list[str]:
    return list(
        SLAPolicy.objects.filter(notification_level=NotificationLevel.ROUTINE).values_list("severity", flat=True)
    )


def send_routine_digests(now: datetime | None = None) -> int:
    """One email per team listing its routine incidents detected in the last 24 h.

    Idempotent per team and day (dedupe key). Returns the number of teams mailed.
    A constant number of queries plus one insert per recipient.
    """
    now = now or timezone.now()
    incidents = list(
        Incident.objects.filter(
            severity__in=routine_severities(),
            detected_at__gt=now - DIGEST_WINDOW,
            detected_at__lte=now,
            team__isnull=False,
        )
        .select_related("team", "service")
        .order_by("team_id", "detected_at", "id")
    )
    by_team: dict[int, list[Incident]] = defaultdict(list)
    for incident in incidents:
        by_team[incident.team_id].append(incident)
    if not by_team:
        return 0
    people: dict[int, set[str]] = defaultdict(set)
    for team_id, address in _users().filter(teams__in=list(by_team)).values_list("teams", "email"):
        people[team_id].add(address)
    for team_id, address in _users().filter(led_teams__in=list(by_team)).values_list("led_teams", "email"):
        people[team_id].add(address)
    mailed = 0
    day = timezone.localdate(now).isoformat()
    for team_id, team_incidents in by_team.items():
        team = team_incidents[0].team
        addresses = [a for a in [team.email, *sorted(people[team_id])] if a]
        lines = [
            f"- {i.number} [{i.get_state_display()}] {i.title} ({i.service}, detected "
            f"{i.detected_at:%Y-%m-%d %H:%M})"
            + (" — SLA breached" if i.response_breached or i.resolution_breached else "")
            for i in team_incidents
        ]
        rows = notify(
            recipients=[email(a) for a in addresses],
            subject=f"Routine incidents digest for {team.name}: {len(team_incidents)} in the last 24 h",
            body="Routine (low severity) incidents detected in the last 24 hours:\n\n" + "\n".join(lines),
            queue=NotificationQueue.DEFAULT,
            dedupe_key=f"incidents:digest:{team_id}:{day}",
            about=team,
        )
        if rows:
            from .choices import StepKey
            from .steps import observe

            observe([i.pk for i in team_incidents], [StepKey.TEAM_NOTIFICATION], at=now)
        mailed += bool(rows)
    return mailed


def addresses_of(recipients: Iterable[Recipient]) -> list[str]:
    return [r.address for r in recipients]


# --- the incident process (§2.1) ------------------------------------------------------------


def _incident_subject(incident: Incident, headline: str) -> str:
    return f"[{incident.get_severity_display()}] {incident.number} {headline}: {incident.title}"


def notify_follow_up_breach(incident: Incident) -> int:
    """Tell the team lead and ``Incident Managers`` once that the post-incident review is overdue."""
    if _muted():
        return 0
    addresses = lead_email(incident.team) + group_emails(Role.INCIDENT_MANAGERS)
    due = incident.follow_up_due
    rows = notify(
        recipients=[email(a) for a in dict.fromkeys(addresses)],
        subject=_incident_subject(incident, "follow-up overdue"),
        body=(
            f"The post-incident review of {incident.number} was due {due:%Y-%m-%d %H:%M %Z} and the incident "
            f"is still resolved, not closed.\n\n{describe(incident)}"
        ),
        queue=NotificationQueue.DEFAULT,
        dedupe_key=f"incident:{incident.pk}:follow-up-breach",
        about=incident,
    )
    return len(rows)


def _label_for(user, incident: Incident) -> str:
    """The incident's number and title, or "a confidential incident" for someone who may not see it."""
    from .selectors import incident_visible_to

    if incident.confidential and not incident_visible_to(user, incident):
        return "a confidential incident"
    return f"{incident.number} ({incident.title})"


def notify_action_item_owner(item, *, by) -> int:
    """Tell the owner of a new action item that it is theirs (not when they made it themselves)."""
    owner = item.owner
    if _muted() or not owner.email or not owner.is_active or (by is not None and by.pk == owner.pk):
        return 0
    incident = item.incident
    rows = notify(
        recipients=[email(owner.email)],
        subject=f"Action item for you: {item.title}",
        body=(
            f"You own an action item of the review of {_label_for(owner, incident)}: {item.title}\n"
            f"Due: {item.due_date:%Y-%m-%d}\n{link(incident)}"
        ),
        dedupe_key=f"action-item:{item.pk}:owner:{owner.pk}",
        about=incident,
    )
    return len(rows)


def notify_action_item_overdue(item) -> int:
    """Remind the owner once that their action item is past its due date."""
    owner = item.owner
    if _muted() or not owner.email or not owner.is_active:
        return 0
    incident = item.incident
    rows = notify(
        recipients=[email(owner.email)],
        subject=f"Overdue action item: {item.title}",
        body=(
            f"Your action item of the review of {_label_for(owner, incident)} was due {item.due_date:%Y-%m-%d} "
            f"and is still open: {item.title}\nMark it done or cancel it on the incident page: {link(incident)}"
        ),
        dedupe_key=f"action-item:{item.pk}:overdue",
        about=incident,
    )
    return len(rows)


def status_update_recipients(incident: Incident) -> list[Recipient]:
    """Who is reminded of a due status update: the assignee (else the team lead) and ``Incident Managers``."""
    first = _assignee_email(incident) or lead_email(incident.team)
    return [email(a) for a in dict.fromkeys(first + group_emails(Role.INCIDENT_MANAGERS))]


def notify_status_update_due(incident: Incident, *, since: datetime, key: str) -> int:
    """Remind that a major incident has had no status update since ``since`` (once per ``key``)."""
    if _muted():
        return 0
    rows = notify(
        recipients=status_update_recipients(incident),
        subject=_incident_subject(incident, "status update due"),
        body=(
            f"Major incident {incident.number} has had no status update since {since:%Y-%m-%d %H:%M %Z}. "
            f"Post one on the incident page.\n\n{describe(incident)}"
        ),
        queue=NotificationQueue.HIGH,
        dedupe_key=f"incident:{incident.pk}:status-update-due:{key}",
        about=incident,
    )
    return len(rows)


def notify_stakeholders(update) -> int:
    """Email a stakeholder status update to the service's ``stakeholder_emails`` (never for a confidential one)."""
    incident = update.incident
    if _muted() or incident.confidential:
        return 0
    addresses = incident.service.stakeholder_addresses()
    if not addresses:
        return 0
    rows = notify(
        recipients=[email(a) for a in addresses],
        subject=f"{incident.number} status update: {incident.title}",
        body=(
            f"{update.body}\n\n{incident.number}: {incident.title}\nService: {incident.service}\n"
            f"State: {incident.get_state_display()}\nUpdated: {update.created_at:%Y-%m-%d %H:%M %Z}"
        ),
        queue=NotificationQueue.HIGH if incident.major else NotificationQueue.DEFAULT,
        dedupe_key=f"status-update:{update.pk}",
        about=incident,
    )
    return len(rows)


def notify_major_declared(incident: Incident, *, by) -> int:
    """Announce a major incident at the immediate level (team, its lead, ``Incident Managers``)."""
    who = (by.get_full_name() or by.get_username()) if by is not None else "OpsDesk"
    return notify_event(
        incident, event="major", headline=f"Declared a major incident by {who}", key="major",
        level=NotificationLevel.IMMEDIATE,
    )
