"""Writes of the alert intake: sources (token shown once), the per-source rate limit, and ingest.

``alert_ingest`` stores what a delivery says about its alerts — new alerts, alerts
still firing (``last_seen`` only), alerts resolved, alerts firing again — in a
fixed number of statements, then publishes one ``alert.received`` event per
group. The incident work (open, attach, reopen, note, resolve) is the
``alert_to_incident`` automation rule's: this app never imports the incidents'
services.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from incidents.choices import Severity
from opsdesk import events
from opsdesk.exceptions import DomainValidationError

from .choices import AlertStatus, SourceKind
from .models import Alert, AlertGroup, AlertSource, token_digest
from .parsers import Parsed, ParsedAlert, PayloadError, Rejected, parse

ADD_SOURCE = "alerts.add_alertsource"
CHANGE_SOURCE = "alerts.change_alertsource"
TOKEN_BYTES = 32

# Fields alert_source_create and alert_source_update take (the token and counters never).
SOURCE_FIELDS = (
    "name",
    "slug",
    "kind",
    "default_service",
    "default_severity",
    "severity_map",
    "service_label",
    "auto_resolve",
    "reopen_minutes",
    "rate_limit_per_minute",
    "enabled",
)


def _require_perm(by, perm: str, message: str) -> None:
    if by is None:
        return
    if not by.is_authenticated or not by.is_active or not by.has_perm(perm):
        raise PermissionDenied(message)


# --- sources -------------------------------------------------------------------------


def new_token() -> str:
    """A fresh source token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def _set_token(source: AlertSource) -> str:
    token = new_token()
    source.token_hash = token_digest(token)
    source.token_prefix = token[:8]
    source.token_created_at = timezone.now()
    return token


def validate_source(source: AlertSource) -> None:
    """The rules of an alert source's fields (DomainValidationError naming each bad one)."""
    errors: dict[str, str] = {}
    source.name = (source.name or "").strip()
    if not source.name:
        errors["name"] = "Give the source a name."
    source.slug = (source.slug or slugify(source.name))[:50]
    if not source.slug or slugify(source.slug) != source.slug:
        errors["slug"] = "Use lowercase letters, digits and hyphens."
    elif AlertSource.objects.exclude(pk=source.pk).filter(slug=source.slug).exists():
        errors["slug"] = f"Another source already uses {source.slug!r}."
    if source.name and AlertSource.objects.exclude(pk=source.pk).filter(name=source.name).exists():
        errors["name"] = f"Another source is already called {source.name!r}."
    if source.kind not in SourceKind.values:
        errors["kind"] = f"Choose a kind: {', '.join(SourceKind.values)}."
    if source.default_service_id is None:
        errors["default_service"] = "Choose the service incidents go to when an alert names none."
    if source.default_severity not in Severity.values:
        errors["default_severity"] = f"Choose a severity: {', '.join(Severity.values)}."
    severity_map = source.severity_map
    if not isinstance(severity_map, dict) or not all(
        isinstance(k, str) and k.strip() and v in Severity.values for k, v in severity_map.items()
    ):
        errors["severity_map"] = (
            f"Give an object of label value → severity ({', '.join(Severity.values)}), "
            'e.g. {"critical": "critical", "warning": "medium"}.'
        )
    else:
        source.severity_map = {k.strip().lower(): v for k, v in severity_map.items()}
    source.service_label = (source.service_label or "").strip()
    if not source.service_label:
        errors["service_label"] = "Name the label whose value is a service slug (e.g. service)."
    for name, low, high in (("reopen_minutes", 0, 7 * 24 * 60), ("rate_limit_per_minute", 1, 100_000)):
        value = getattr(source, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[name] = f"A whole number from {low} to {high}."
    if errors:
        raise DomainValidationError(errors)


@transaction.atomic
def alert_source_create(*, by, **fields: Any) -> tuple[AlertSource, str]:
    """Create a source and its token; returns both — the token is shown this once and stored only hashed.

    Needs ``alerts.add_alertsource`` (superusers and Incident Managers).
    """
    _require_perm(by, ADD_SOURCE, "You may not create alert sources.")
    unknown = set(fields) - set(SOURCE_FIELDS)
    if unknown:
        raise DomainValidationError({name: "Unknown field." for name in sorted(unknown)})
    source = AlertSource(**{k: v for k, v in fields.items() if v is not None})
    source.created_by = by if by is not None and by.is_authenticated else None
    validate_source(source)
    token = _set_token(source)
    source.save()
    return source, token


@transaction.atomic
def alert_source_update(*, source: AlertSource, by, **fields: Any) -> AlertSource:
    """Change a source's settings (``SOURCE_FIELDS``); needs ``alerts.change_alertsource``."""
    _require_perm(by, CHANGE_SOURCE, "You may not change alert sources.")
    unknown = set(fields) - set(SOURCE_FIELDS)
    if unknown:
        raise DomainValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    locked = AlertSource.objects.select_for_update().get(pk=source.pk)
    for name, value in fields.items():
        setattr(locked, name, value)
    validate_source(locked)
    locked.save()
    return locked


@transaction.atomic
def alert_source_rotate_token(*, source: AlertSource, by) -> str:
    """Give the source a new token (the old one stops working at once); returns it, shown this once."""
    _require_perm(by, CHANGE_SOURCE, "You may not change alert sources.")
    locked = AlertSource.objects.select_for_update().get(pk=source.pk)
    token = _set_token(locked)
    locked.save(update_fields=["token_hash", "token_prefix", "token_created_at", "updated_at"])
    return token


def authenticate_source(*, slug: str, token: str) -> AlertSource | None:
    """The source at ``slug`` whose token is ``token`` (enabled or not), else None."""
    source = AlertSource.objects.filter(slug=slug).first()
    if source is None:
        token_digest(token)  # as long as a wrong token: the answer does not tell which slugs exist
        return None
    return source if source.token_matches(token) else None


# --- the rate limit ------------------------------------------------------------------


def claim_delivery(source: AlertSource, now: datetime | None = None) -> int | None:
    """Count one delivery against the source's per-minute limit; None when it is allowed,
    else the seconds until the next minute (the ``Retry-After``).

    The counter is a pair of columns on the source row, claimed with conditional
    UPDATEs in autocommit: every gunicorn worker on every machine shares it, it needs
    no cache server (SQLite works too), and two requests at once cannot both take
    the last place, because the database re-checks the condition on the locked row.
    """
    now = now or timezone.now()
    window = now.replace(second=0, microsecond=0)
    rows = AlertSource.objects.filter(pk=source.pk)
    with transaction.atomic():
        if rows.filter(Q(rate_window__lt=window) | Q(rate_window__isnull=True)).update(
            rate_window=window, rate_count=1
        ):
            return None
        if rows.filter(rate_window__gte=window, rate_count__lt=F("rate_limit_per_minute")).update(
            rate_count=F("rate_count") + 1
        ):
            return None
    return max(1, 60 - now.second)


# --- ingest --------------------------------------------------------------------------


@dataclass
class IngestResult:
    """What a delivery came to: alerts taken, the incidents they belong to, alerts refused."""

    alerts: int
    incidents: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"incidents": self.incidents, "alerts": self.alerts}
        if self.rejected:
            answer["rejected"] = [r.as_dict() for r in self.rejected]
        return answer


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _groups(source: AlertSource, alerts: list[ParsedAlert], now: datetime) -> dict[str, AlertGroup]:
    """The groups of ``alerts`` by key, created where new, locked (two deliveries for a group take turns)."""
    wanted = {alert.group_key: alert.group_label for alert in alerts}
    AlertGroup.objects.bulk_create(
        [AlertGroup(source=source, key=key, key_hash=_key_hash(key), label=label[:200], created_at=now)
         for key, label in wanted.items()],
        ignore_conflicts=True,
    )
    hashes = {_key_hash(key): key for key in wanted}
    locked = AlertGroup.objects.select_for_update().filter(source=source, key_hash__in=hashes).order_by("pk")
    return {group.key: group for group in locked}


def _parse(source: AlertSource, payload: Any, received_at: datetime) -> Parsed:
    try:
        parsed = parse(source.kind, payload, service_label=source.service_label, received_at=received_at)
    except PayloadError as exc:
        raise DomainValidationError(exc.errors) from None
    if not parsed.alerts:
        raise DomainValidationError(
            {path: message for rejected in parsed.rejected for path, message in rejected.errors.items()}
        )
    return parsed


def _set(alert: Alert, **values: Any) -> None:
    """Set fields on a stored alert, remembering which ones really changed (``_changed``)."""
    changed = alert.__dict__.setdefault("_changed", set())
    for name, value in values.items():
        if getattr(alert, name) != value:
            setattr(alert, name, value)
            changed.add(name.removesuffix("_id"))


def _save_updates(alerts: list[Alert], received_at: datetime) -> None:
    """Write the stored alerts a delivery touched: one UPDATE for those only seen again (the usual
    repeat), one bulk UPDATE per set of changed fields for the rest (resolved, relabelled)."""
    seen_only = [alert.pk for alert in alerts if not alert.__dict__.get("_changed")]
    if seen_only:
        Alert.objects.filter(pk__in=seen_only).update(last_seen=received_at)
    by_fields: dict[frozenset, list[Alert]] = {}
    for alert in alerts:
        if alert.__dict__.get("_changed"):
            by_fields.setdefault(frozenset(alert.__dict__["_changed"]), []).append(alert)
    for fields, group in by_fields.items():
        Alert.objects.bulk_update(group, sorted({*fields, "last_seen"}))


@transaction.atomic
def alert_ingest(*, source: AlertSource, payload: Any, received_at: datetime | None = None) -> IngestResult:
    """Take one delivery of ``source`` (its parsed JSON body).

    A body that is wrong as a whole, or none of whose alerts can be read, raises
    DomainValidationError naming the bad parts, and nothing is stored. Otherwise
    the readable alerts are stored and the unreadable ones are answered in
    ``rejected`` (one bad alert does not lose the others). Per fingerprint:

    - new and firing: a new alert (it needs an incident);
    - firing and already firing: ``last_seen`` (and labels, annotations) only;
    - firing after it resolved (a later ``startsAt``): a new occurrence, ``previous`` the old one;
    - resolved: ``status``, ``ends_at`` (its incident is told).

    ``received_at`` (default now) is ``first_seen``/``last_seen`` and the incident's ``detected_at``.
    """
    received_at = received_at or timezone.now()
    parsed = _parse(source, payload, received_at)
    latest: dict[str, ParsedAlert] = {}
    for alert in parsed.alerts:  # the same fingerprint twice in one delivery: the last one counts
        latest.pop(alert.fingerprint, None)
        latest[alert.fingerprint] = alert
    incoming = list(latest.values())
    groups = _groups(source, incoming, received_at)
    current = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(source=source, fingerprint__in=list(latest), current=True)
    }
    create: list[Alert] = []
    update: list[Alert] = []
    demote: list[int] = []
    needs_incident: dict[str, list[str]] = {}  # group key → fingerprints
    resolved: dict[str, list[int]] = {}  # group key → alert ids
    for alert in incoming:
        group = groups[alert.group_key]
        known = current.get(alert.fingerprint)
        fresh = Alert(
            source=source, group=group, fingerprint=alert.fingerprint, status=alert.status, labels=alert.labels,
            annotations=alert.annotations, starts_at=alert.starts_at, generator_url=alert.generator_url,
            ends_at=(alert.ends_at or received_at) if alert.status == AlertStatus.RESOLVED else None,
            first_seen=received_at, last_seen=received_at, current=True,
        )
        if known is None:
            create.append(fresh)
            if alert.status == AlertStatus.FIRING:
                needs_incident.setdefault(alert.group_key, []).append(alert.fingerprint)
            continue
        known.last_seen = received_at
        update.append(known)
        if known.status == AlertStatus.FIRING:
            _set(known, group_id=group.pk, labels=alert.labels, annotations=alert.annotations,
                 generator_url=alert.generator_url or known.generator_url)
            if alert.status == AlertStatus.RESOLVED:
                _set(known, status=AlertStatus.RESOLVED, ends_at=fresh.ends_at)
                if known.incident_id is not None:
                    resolved.setdefault(alert.group_key, []).append(known.pk)
            elif known.incident_id is None:  # its incident could not be opened before: try again
                needs_incident.setdefault(alert.group_key, []).append(alert.fingerprint)
        elif alert.status == AlertStatus.FIRING and alert.starts_at > known.starts_at:
            # Fired again after it resolved: a new occurrence (a late copy of the old one has its startsAt).
            demote.append(known.pk)
            fresh.previous = known
            create.append(fresh)
            needs_incident.setdefault(alert.group_key, []).append(alert.fingerprint)
    if demote:
        Alert.objects.filter(pk__in=demote).update(current=False)
    Alert.objects.bulk_create(create)
    _save_updates(update, received_at)
    ids = {alert.fingerprint: alert.pk for alert in [*update, *create]}  # a new occurrence wins over its previous
    receipt = uuid.uuid4().hex[:16]
    for key, group in groups.items():
        firing_ids = tuple(ids[fp] for fp in needs_incident.get(key, ()))
        resolved_ids = tuple(resolved.get(key, ()))
        if firing_ids or resolved_ids:
            events.publish(
                events.AlertReceived(
                    source_id=source.pk, group_id=group.pk, firing=firing_ids, resolved=resolved_ids,
                    receipt=receipt, at=received_at,
                )
            )
    numbers = (
        Alert.objects.filter(pk__in=list(ids.values()), incident__isnull=False)
        .order_by("incident__number")
        .values_list("incident__number", flat=True)
        .distinct()
    )
    return IngestResult(alerts=len(incoming), incidents=list(numbers), rejected=parsed.rejected)
