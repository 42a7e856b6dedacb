"""Writes of the releases app (§4): every view, the admin, the API and the demo call these.

Each service is keyword-only and atomic, checks the caller's permission (``by``
None = the system itself), validates with ``DomainValidationError`` (400), and
writes its notifications into the outbox in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from changes.choices import ChangeState
from opsdesk import events, notifications
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError
from opsdesk.models import Service
from opsdesk.workflow import actor_id, apply_transition, log_transition

from .choices import CheckKind, DeliverableKind, DeploymentStatus, ReleaseState
from .models import Deployment, Release, ReleaseCheck, ReleaseDeliverable

# A release in one of these states is finished: no more edits, deliverables, checks or deployments.
CLOSED_STATES = (ReleaseState.COMPLETED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK, ReleaseState.CANCELLED)
# Deployments are recorded once the release is being implemented.
DEPLOYABLE_STATES = (ReleaseState.IMPLEMENTATION, ReleaseState.VERIFICATION)
# Change states in which a change may (still) join a release.
JOINABLE_CHANGE_STATES = (ChangeState.APPROVED, ChangeState.IN_PROGRESS, ChangeState.VERIFYING)
RELEASE_FIELDS = ("name", "version", "services", "release_manager", "planned_date")


# --- helpers -------------------------------------------------------------------


def _require_perm(by, perm: str, what: str) -> None:
    """``by`` None is the system; anyone else needs ``perm``."""
    if by is None:
        return
    if not (by.is_authenticated and by.is_active and by.has_perm(perm)):
        raise PermissionDenied(f"You may not {what}.")


def _require_open(release: Release, what: str) -> None:
    if release.state in CLOSED_STATES:
        raise DomainValidationError(
            f"{release.number} is {release.get_state_display().lower()}: it takes no more {what}."
        )


def _actor(by) -> str:
    if by is None:
        return "OpsDesk"
    return by.get_full_name() or by.get_username()


def is_release_manager(user) -> bool:
    """Whether ``user`` belongs to the Release Managers role group."""
    return user is not None and user.groups.filter(name=Role.RELEASE_MANAGERS).exists()


def release_recipients(release: Release) -> list[notifications.Recipient]:
    """The release manager and the teams (team email) of the release's services."""
    recipients = []
    manager = release.release_manager
    if manager is not None and manager.email:
        recipients.append(notifications.email(manager.email))
    for service in release.services.select_related("owner_team").order_by("id"):
        team = service.owner_team
        if team is not None and team.email:
            recipients.append(notifications.email(team.email))
    return recipients


def release_url(release: Release) -> str:
    """The release's page, absolute (for notifications)."""
    from django.conf import settings
    from django.urls import reverse

    return f"{settings.OPSDESK_BASE_URL.rstrip('/')}{reverse('releases:detail', args=[release.pk])}"


def _clean_release_fields(fields: dict, *, creating: bool) -> dict:
    """Validate the editable fields of a release; returns them cleaned."""
    unknown = set(fields) - set(RELEASE_FIELDS)
    if unknown:
        raise DomainValidationError({name: "This field cannot be set here." for name in sorted(unknown)})
    errors: dict[str, str] = {}
    cleaned = dict(fields)
    if "name" in cleaned or creating:
        cleaned["name"] = (cleaned.get("name") or "").strip()
        if not cleaned["name"]:
            errors["name"] = "Give the release a name."
        elif len(cleaned["name"]) > 200:
            errors["name"] = "At most 200 characters."
    if "version" in cleaned:
        cleaned["version"] = (cleaned["version"] or "").strip()
        if len(cleaned["version"]) > 50:
            errors["version"] = "At most 50 characters."
    if "services" in cleaned or creating:
        services = list(cleaned.get("services") or [])
        services = [s if isinstance(s, Service) else Service.objects.filter(pk=s).first() for s in services]
        if not services or any(s is None for s in services):
            errors["services"] = "Choose at least one service."
        cleaned["services"] = services
    manager = cleaned.get("release_manager")
    if manager is not None and not (manager.is_active and is_release_manager(manager)):
        errors["release_manager"] = f"{manager.get_username()} is not an active Release Manager."
    if errors:
        raise DomainValidationError(errors)
    return cleaned


# --- releases --------------------------------------------------------------------


@transaction.atomic
def release_create(
    *, by, created_at: datetime | None = None, created_by_rule: str | None = None, **fields
) -> Release:
    """Create a release in ``planning`` (needs ``releases.add_release``).

    ``fields``: name (required), version, services (at least one), release_manager
    (an active Release Manager; defaults to ``by`` when ``by`` is one), planned_date.
    ``created_at`` is for demo data replaying history; ``created_by_rule`` names the
    automation rule that created it (``by`` is then None).
    """
    _require_perm(by, "releases.add_release", "create releases")
    if "release_manager" not in fields:
        fields["release_manager"] = by if (by is not None and is_release_manager(by)) else None
    cleaned = _clean_release_fields(fields, creating=True)
    services = cleaned.pop("services")
    release = Release(**cleaned, created_at=created_at or timezone.now(), created_by_rule=created_by_rule or None)
    release.save()
    release.services.set(services)
    author = f"rule {created_by_rule}" if created_by_rule else _actor(by)
    log_transition(
        obj=release, name="create", from_state="", to_state=release.state, by=by,
        comment=f"Created by {author}.", at=created_at,
    )
    return release


@transaction.atomic
def release_update(*, release: Release, by, **fields) -> Release:
    """Edit the non-state fields of an open release (needs ``releases.change_release``)."""
    _require_perm(by, "releases.change_release", "edit releases")
    locked = Release.objects.select_for_update().get(pk=release.pk)
    _require_open(locked, "edits")
    cleaned = _clean_release_fields(fields, creating=False)
    services = cleaned.pop("services", None)
    for name, value in cleaned.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*cleaned, "updated_at"])
    if services is not None:
        locked.services.set(services)
    return locked


@transaction.atomic
def release_transition(
    *, instance: Release, name: str, by, comment: str = "", expected_state: str | None = None, at=None, **fields
) -> Release:
    """Move a release through a gate (``prepare``, ``implement``, ``verify``, ``complete``)
    or out (``fail``, ``roll_back``, ``cancel``); needs ``releases.move_release``.

    A gate that does not hold raises ``TransitionNotAllowed`` whose ``missing`` names
    what is missing. Notifies the release manager and the teams of its services.
    """
    release = apply_transition(
        instance=instance, name=name, by=by, comment=comment, expected_state=expected_state, at=at, **fields
    )
    state = release.get_state_display().lower()
    body = f"{release.number} {release.name} is now {state} ({name} by {_actor(by)})."
    if comment:
        body += f"\n\n{comment}"
    notifications.notify(
        recipients=release_recipients(release),
        subject=f"{release.number} {release.name}: {state}",
        body=f"{body}\n\n{release_url(release)}",
        dedupe_key=f"release:{release.pk}:transition:{name}",
        about=release,
    )
    return release


# --- deliverables and checks -------------------------------------------------------


def deliverable_errors(*, kind: str, content: str, link: str) -> dict[str, str]:
    """The validation errors of a deliverable (shared with the admin inline's form)."""
    errors = {}
    if kind not in DeliverableKind.values:
        errors["kind"] = f"Choose one of: {', '.join(DeliverableKind.values)}."
    if not (content or "").strip() and not (link or "").strip():
        errors["content"] = "Give the deliverable's content or a link to it."
    if (link or "").strip():
        try:
            URLValidator()(link.strip())
        except ValidationError:
            errors["link"] = "Enter a valid URL."
    return errors


@transaction.atomic
def deliverable_add(
    *, release: Release, by, kind: str, content: str = "", link: str = "", at=None
) -> ReleaseDeliverable:
    """Add a deliverable a phase gate needs (needs ``releases.add_releasedeliverable``).

    Content or a link is required. ``by`` is the author.
    """
    _require_perm(by, "releases.add_releasedeliverable", "add deliverables")
    if by is None:
        raise DomainValidationError({"author": "A deliverable needs an author."})
    locked = Release.objects.select_for_update().get(pk=release.pk)
    _require_open(locked, "deliverables")
    errors = deliverable_errors(kind=kind, content=content, link=link)
    if errors:
        raise DomainValidationError(errors)
    return ReleaseDeliverable.objects.create(
        release=locked, kind=kind, content=(content or "").strip(), link=(link or "").strip(), author=by,
        created_at=at or timezone.now(),
    )


@transaction.atomic
def check_record(
    *, release: Release, by, kind: str, passed: bool, note: str = "", at=None
) -> ReleaseCheck:
    """Record the result of one verification check; recording it again replaces the result.

    Needs ``releases.add_releasecheck`` (and ``change_releasecheck`` to replace). ``by`` is who checked.
    """
    _require_perm(by, "releases.add_releasecheck", "record checks")
    if by is None:
        raise DomainValidationError({"checked_by": "A check needs the person who checked."})
    if kind not in CheckKind.values:
        raise DomainValidationError({"kind": f"Choose one of: {', '.join(CheckKind.values)}."})
    if not isinstance(passed, bool):
        raise DomainValidationError({"passed": "Say whether the check passed (true or false)."})
    locked = Release.objects.select_for_update().get(pk=release.pk)
    _require_open(locked, "checks")
    existing = ReleaseCheck.objects.filter(release=locked, kind=kind).first()
    when = at or timezone.now()
    if existing is None:
        return ReleaseCheck.objects.create(
            release=locked, kind=kind, passed=passed, note=(note or "").strip(), checked_by=by, checked_at=when
        )
    _require_perm(by, "releases.change_releasecheck", "change check results")
    existing.passed = passed
    existing.note = (note or "").strip()
    existing.checked_by = by
    existing.checked_at = when
    existing.save(update_fields=["passed", "note", "checked_by", "checked_at"])
    return existing


# --- deployments ------------------------------------------------------------------


def deployment_errors(
    *, environment: str, status: str, started_at: datetime, finished_at: datetime | None, now: datetime
) -> dict[str, str]:
    """The validation errors of a deployment's fields (shared with forms)."""
    errors = {}
    if not (environment or "").strip():
        errors["environment"] = "Name the environment (e.g. staging, production)."
    elif len(environment.strip()) > 50:
        errors["environment"] = "At most 50 characters."
    if status not in DeploymentStatus.values:
        errors["status"] = f"Choose one of: {', '.join(DeploymentStatus.values)}."
    if started_at is not None and started_at > now:
        errors["started_at"] = "A deployment cannot start in the future."
    if status == DeploymentStatus.RUNNING:
        if finished_at is not None:
            errors["finished_at"] = "A running deployment has no finish time."
    elif status in DeploymentStatus.values:
        if finished_at is None:
            errors["finished_at"] = "Give the finish time of a succeeded or failed deployment."
        elif started_at is not None and finished_at < started_at:
            errors["finished_at"] = "A deployment cannot finish before it started."
        elif finished_at > now:
            errors["finished_at"] = "The finish time cannot be in the future."
    return errors


def _notify_deployment(deployment: Deployment, by) -> None:
    release = deployment.release
    deployment.refresh_from_db(fields=["incident"])  # an automation rule may have opened one just now
    status = deployment.get_status_display().lower()
    lines = [
        f"Deployment of {release.number} {release.name} to {deployment.environment}: {status}.",
        f"Started {timezone.localtime(deployment.started_at):%Y-%m-%d %H:%M} by {_actor(by)}.",
    ]
    if deployment.finished_at:
        lines.append(f"Finished {timezone.localtime(deployment.finished_at):%Y-%m-%d %H:%M}.")
    if deployment.incident_id:
        lines.append(f"Incident {deployment.incident.number} was opened for the failure.")
    lines.append(release_url(release))
    notifications.notify(
        recipients=release_recipients(release),
        subject=f"{release.number} deployment to {deployment.environment} {status}",
        body="\n".join(lines),
        dedupe_key=f"release:{release.pk}:deployment:{deployment.pk}:{deployment.status}",
        about=release,
    )


def _publish_failure(deployment: Deployment, by) -> None:
    """Tell the automation rules (``failed_deployment_to_incident``) that a deployment failed."""
    events.publish(
        events.DeploymentFailed(
            deployment_id=deployment.pk, release_id=deployment.release_id, by_id=actor_id(by),
            at=deployment.finished_at or timezone.now(),
        )
    )


@transaction.atomic
def deployment_link_incident(*, deployment: Deployment, incident) -> Deployment:
    """Record the incident opened for a failed deployment (the system only; set once)."""
    locked = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if locked.status != DeploymentStatus.FAILED:
        raise DomainValidationError({"incident": "Only a failed deployment has an incident of its own."})
    if locked.incident_id is not None and locked.incident_id != incident.pk:
        raise DomainValidationError({"incident": f"This deployment already opened {locked.incident}."})
    locked.incident = incident
    locked.save(update_fields=["incident"])
    deployment.incident = incident
    return locked


@transaction.atomic
def deployment_create(
    *, release: Release, by, environment: str, started_at: datetime | None = None,
    status: str = DeploymentStatus.RUNNING, finished_at: datetime | None = None,
) -> Deployment:
    """Record a deployment of a release in implementation or verification (``releases.add_deployment``).

    ``started_at`` defaults to now; ``finished_at`` is required unless the status is
    ``running``. A failed deployment opens one high-severity incident (``caused_by_release``).
    """
    _require_perm(by, "releases.add_deployment", "record deployments")
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if locked.state not in DEPLOYABLE_STATES:
        raise DomainValidationError(
            f"{locked.number} is {locked.get_state_display().lower()}: deployments are recorded "
            "during implementation and verification."
        )
    now = timezone.now()
    started_at = started_at or now
    errors = deployment_errors(
        environment=environment, status=status, started_at=started_at, finished_at=finished_at, now=now
    )
    if errors:
        raise DomainValidationError(errors)
    deployment = Deployment.objects.create(
        release=locked, environment=environment.strip(), started_at=started_at, finished_at=finished_at,
        status=status, deployed_by=by,
    )
    if status == DeploymentStatus.FAILED:
        _publish_failure(deployment, by)
    _notify_deployment(deployment, by)
    return deployment


@transaction.atomic
def deployment_update(
    *, deployment: Deployment, by, status: str | None = None, finished_at: datetime | None = None,
) -> Deployment:
    """Finish a running deployment: ``succeeded`` or ``failed`` (``releases.change_deployment``).

    ``finished_at`` defaults to now. A finished deployment keeps its status (saving the
    same status again changes nothing). The deployment row is locked, so a failure
    opens exactly one incident even when saved twice or concurrently.
    """
    _require_perm(by, "releases.change_deployment", "update deployments")
    locked = Deployment.objects.select_for_update().select_related("release").get(pk=deployment.pk)
    status = status or locked.status
    if status not in DeploymentStatus.values:
        raise DomainValidationError({"status": f"Choose one of: {', '.join(DeploymentStatus.values)}."})
    if locked.status != DeploymentStatus.RUNNING:
        if status != locked.status:
            raise DomainValidationError(
                {"status": f"This deployment already {locked.get_status_display().lower()}; "
                           "record a new deployment instead."}
            )
        if status == DeploymentStatus.FAILED:
            _publish_failure(locked, by)  # the rule acts once per deployment; a failed earlier try is retried
        return locked
    if status == DeploymentStatus.RUNNING:
        if finished_at is not None:
            raise DomainValidationError({"finished_at": "A running deployment has no finish time."})
        return locked
    now = timezone.now()
    finished_at = finished_at or now
    errors = deployment_errors(
        environment=locked.environment, status=status, started_at=locked.started_at,
        finished_at=finished_at, now=now,
    )
    if errors:
        raise DomainValidationError(errors)
    locked.status = status
    locked.finished_at = finished_at
    locked.save(update_fields=["status", "finished_at"])
    if status == DeploymentStatus.FAILED:
        _publish_failure(locked, by)
    _notify_deployment(locked, by)
    return locked


# --- changes in a release -------------------------------------------------------------


@transaction.atomic
def release_add_change(*, release: Release, change, by, at=None) -> Release:
    """Put an approved change into a release in ``planning``; needs ``releases.change_release``.

    The release takes on the change's services. A change belongs to one release:
    adding it again to the same release changes nothing, to another is refused.
    ``by`` None is the system (the ``approved_change_to_release`` rule).
    """
    from changes.models import ChangeRequest

    _require_perm(by, "releases.change_release", "add changes to releases")
    locked = Release.objects.select_for_update().get(pk=release.pk)
    locked_change = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if locked_change.release_id == locked.pk:
        return locked
    if locked.state != ReleaseState.PLANNING:
        raise DomainValidationError(
            f"{locked.number} is {locked.get_state_display().lower()}: changes join releases in planning."
        )
    if locked_change.release_id is not None:
        raise DomainValidationError(f"{locked_change.number} is already in another release.")
    if locked_change.state not in JOINABLE_CHANGE_STATES:
        raise DomainValidationError(
            f"{locked_change.number} is {locked_change.get_state_display().lower()}: "
            "only approved changes join a release."
        )
    locked.services.add(*locked_change.services.all())
    locked_change.release = locked
    locked_change.save(update_fields=["release", "updated_at"])
    change.release = locked
    log_transition(
        obj=locked, name="add_change", from_state=locked.state, to_state=locked.state, by=by,
        comment=f"{locked_change.number} {locked_change.title}", at=at,
    )
    return locked


__all__ = [
    "check_record",
    "deliverable_add",
    "deliverable_errors",
    "deployment_create",
    "deployment_errors",
    "deployment_link_incident",
    "deployment_update",
    "release_add_change",
    "release_create",
    "release_recipients",
    "release_url",
    "release_transition",
    "release_update",
]
