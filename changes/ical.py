"""The change calendar as RFC 5545 iCalendar (§3.1), built with the ``icalendar`` library.

One VEVENT per change with a planned window that is submitted, approved, in
progress or verifying, and one per change freeze. A calendar subscription is
copied to other systems (Outlook, Google), so the feed **never names a
confidential incident**, whoever subscribes: linked confidential incidents are
only counted, and an incident number of a confidential incident written in a
change's title or description is replaced by "a confidential incident".
"""

from __future__ import annotations

import re
from datetime import UTC

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from .models import ChangeFreeze, ChangeRequest

PRODID = "-//OpsDesk//Change calendar//EN"
INCIDENT_NUMBER = re.compile(r"\bINC-\d+\b")
CONFIDENTIAL_TEXT = "a confidential incident"


def _absolute(path: str) -> str:
    return settings.OPSDESK_BASE_URL.rstrip("/") + path


def _utc(value):
    return value.astimezone(UTC)


def _confidential_numbers(changes: list[ChangeRequest]) -> set[str]:
    """Numbers of confidential incidents linked to (prefetched), or written in the text of, these changes.

    At most one query, for the numbers written in titles and descriptions.
    """
    from incidents.models import Incident

    confidential = {incident.number for change in changes for incident in change.incidents.all()
                    if incident.confidential}
    mentioned = set()
    for change in changes:
        mentioned.update(INCIDENT_NUMBER.findall(change.title))
        mentioned.update(INCIDENT_NUMBER.findall(change.description))
    mentioned -= confidential
    if mentioned:
        confidential |= set(
            Incident.objects.filter(number__in=mentioned, confidential=True).values_list("number", flat=True)
        )
    return confidential


def _scrub(text: str, confidential: set[str]) -> str:
    if not confidential:
        return text
    return INCIDENT_NUMBER.sub(lambda m: CONFIDENTIAL_TEXT if m.group(0) in confidential else m.group(0), text)


def _change_event(change: ChangeRequest, confidential: set[str]) -> Event:
    event = Event()
    event.add("uid", f"{change.number}@opsdesk")
    event.add("dtstamp", _utc(change.updated_at))
    event.add("last-modified", _utc(change.updated_at))
    event.add("dtstart", _utc(change.planned_start))
    event.add("dtend", _utc(change.planned_end))
    event.add("summary", _scrub(f"{change.number} {change.title}", confidential))
    event.add("status", "TENTATIVE" if change.state == ChangeRequest.State.SUBMITTED else "CONFIRMED")
    event.add("sequence", change.sequence)
    event.add("url", _absolute(reverse("changes:detail", args=[change.pk])))
    event.add("categories", [change.get_change_type_display()])
    incidents = list(change.incidents.all())
    shown = [incident.number for incident in incidents if incident.number not in confidential]
    hidden = len(incidents) - len(shown)
    lines = [
        f"{change.get_change_type_display()} change, {change.get_state_display().lower()}, "
        f"{change.get_risk_display().lower()} risk (score {change.risk_score}).",
        "Services: " + (", ".join(service.name for service in change.services.all()) or "—"),
        f"Implementer: {change.implementer or '—'}",
    ]
    if incidents:
        parts = shown + ([f"{hidden} confidential incident{'s' if hidden != 1 else ''}"] if hidden else [])
        lines.append("Incidents: " + ", ".join(parts))
    if change.conflicts:
        lines.append(f"Conflicts: {len(change.conflicts)}")
    if change.description.strip():
        lines += ["", _scrub(change.description.strip(), confidential)]
    event.add("description", "\n".join(lines))
    return event


def _freeze_event(freeze: ChangeFreeze) -> Event:
    event = Event()
    event.add("uid", f"freeze-{freeze.pk}@opsdesk")
    event.add("dtstamp", _utc(freeze.updated_at))
    event.add("dtstart", _utc(freeze.start))
    event.add("dtend", _utc(freeze.end))
    event.add("summary", f"Change freeze: {freeze.name}")
    event.add("status", "CONFIRMED")
    event.add("sequence", freeze.sequence)
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["Change freeze"])
    scope = ", ".join(service.name for service in freeze.services.all()) or "all services"
    event.add("description", f"No standard or normal changes on {scope}." + (
        f"\n{freeze.reason}" if freeze.reason else ""
    ))
    return event


def build_calendar(changes, freezes) -> bytes:
    """The feed as bytes (``text/calendar``); ``changes`` need services, incidents and implementer loaded."""
    changes = list(changes)
    confidential = _confidential_numbers(changes)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "OpsDesk changes")
    calendar.add("x-wr-timezone", timezone.get_current_timezone_name())
    calendar.add("x-published-ttl", "PT15M")
    for change in changes:
        calendar.add_component(_change_event(change, confidential))
    for freeze in freezes:
        calendar.add_component(_freeze_event(freeze))
    return calendar.to_ical()
