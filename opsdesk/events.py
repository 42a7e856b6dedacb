"""Domain events: how one process reacts to another without importing it.

The process apps (incidents, changes, releases, alerts) *publish* typed events
about their own records; the ``automation`` app, at the top of the import
graph, *subscribes* its rules to them. No process app imports another's
services, and nothing here knows who listens.

Handlers run synchronously, inside the transaction of the write that
published the event, each in its own savepoint:

- the reaction commits or rolls back together with its trigger (a crash
  between the two can neither lose the reaction nor leave it half done, and
  no event outbox is needed);
- a handler that raises is rolled back to its savepoint, logged, and the
  trigger's write goes on (a failing rule never loses the triggering write);
- what a handler sends out (mail, webhooks) goes through the notification
  outbox, which delivers only after the commit.

Events carry ids, never model instances: a handler re-reads (and locks) what
it needs. Each event has a ``key`` that is the same however often the same
occurrence is published, so subscribers can act on it once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import ClassVar

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event: who caused it (``by_id``; None = the system) and when."""

    name: ClassVar[str] = ""
    # The fields that identify one occurrence (with the name, they make the key).
    key_fields: ClassVar[tuple[str, ...]] = ()
    by_id: int | None = None
    at: datetime = field(default_factory=timezone.now)

    @property
    def key(self) -> str:
        """Identifies this occurrence: publishing the same occurrence twice gives the same key."""
        return ":".join([self.name, *(str(getattr(self, name)) for name in self.key_fields)])

    def as_dict(self) -> dict:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return {"name": self.name, "key": self.key, **data}


@dataclass(frozen=True, kw_only=True)
class IncidentCreated(Event):
    """An incident was logged (by a person, a rule or an alert)."""

    name: ClassVar[str] = "incident.created"
    incident_id: int
    key_fields: ClassVar[tuple[str, ...]] = ("incident_id",)


@dataclass(frozen=True, kw_only=True)
class Transitioned(Event):
    """A workflow object changed state; ``log_id`` is its transition-log entry."""

    object_id: int
    transition: str
    from_state: str
    to_state: str
    log_id: int
    key_fields: ClassVar[tuple[str, ...]] = ("object_id", "log_id")


@dataclass(frozen=True, kw_only=True)
class IncidentTransitioned(Transitioned):
    name: ClassVar[str] = "incident.transitioned"


@dataclass(frozen=True, kw_only=True)
class ChangeTransitioned(Transitioned):
    name: ClassVar[str] = "change.transitioned"


@dataclass(frozen=True, kw_only=True)
class ReleaseTransitioned(Transitioned):
    name: ClassVar[str] = "release.transitioned"


@dataclass(frozen=True, kw_only=True)
class IncidentSeverityChanged(Event):
    """The severity of an incident changed (its deadlines were recomputed)."""

    name: ClassVar[str] = "incident.severity_changed"
    incident_id: int
    old_severity: str
    new_severity: str
    log_id: int
    key_fields: ClassVar[tuple[str, ...]] = ("incident_id", "log_id")


@dataclass(frozen=True, kw_only=True)
class ChangeApproved(Event):
    """A change reached ``approved`` (board decision, or a standard change on submit)."""

    name: ClassVar[str] = "change.approved"
    change_id: int
    key_fields: ClassVar[tuple[str, ...]] = ("change_id",)


@dataclass(frozen=True, kw_only=True)
class DeploymentFailed(Event):
    """A deployment of a release was recorded as failed (published again when saved failed again)."""

    name: ClassVar[str] = "deployment.failed"
    deployment_id: int
    release_id: int
    key_fields: ClassVar[tuple[str, ...]] = ("deployment_id",)


@dataclass(frozen=True, kw_only=True)
class AlertReceived(Event):
    """Monitoring alerts of one group were received and stored (one event per group of a delivery).

    ``firing`` are the alerts that need an incident (new, firing again, or firing without one),
    ``resolved`` those that turned resolved in this delivery; an alert that is merely still firing
    is in neither (its ``last_seen`` was updated, nothing else is to do).
    """

    name: ClassVar[str] = "alert.received"
    source_id: int
    group_id: int
    firing: tuple[int, ...] = ()
    resolved: tuple[int, ...] = ()
    # Distinguishes two deliveries for the same group (one id per accepted request).
    receipt: str
    key_fields: ClassVar[tuple[str, ...]] = ("group_id", "receipt")


EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        IncidentCreated,
        IncidentTransitioned,
        IncidentSeverityChanged,
        ChangeApproved,
        ChangeTransitioned,
        ReleaseTransitioned,
        DeploymentFailed,
        AlertReceived,
    )
}

Handler = Callable[[Event], None]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event_type: type[Event], handler: Handler) -> None:
    """Call ``handler(event)`` for every published event of ``event_type`` (once per handler)."""
    if handler not in _handlers[event_type.name]:
        _handlers[event_type.name].append(handler)


def unsubscribe(event_type: type[Event], handler: Handler) -> None:
    if handler in _handlers[event_type.name]:
        _handlers[event_type.name].remove(handler)


def subscribers(event_type: type[Event]) -> list[Handler]:
    return list(_handlers[event_type.name])


def publish(event: Event) -> None:
    """Hand ``event`` to its subscribers, each in a savepoint of the current transaction.

    A subscriber that raises is rolled back to its savepoint and logged; the
    publisher's own write is never undone by it.
    """
    for handler in subscribers(type(event)):
        try:
            with transaction.atomic():
                handler(event)
        except Exception:  # noqa: BLE001 - a reaction must never undo the write that caused it
            log.exception("Handler %r failed on %s", handler, event.key)
