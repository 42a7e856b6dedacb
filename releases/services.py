"""Writes of the releases app (§4): every view, the admin, the API and the demo call these.

Each service is keyword-only and atomic, checks the caller's permission (``by``
None = the system itself), validates with ``DomainValidationError`` (400), and
writes its notifications into the outbox in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from changes.choices import ChangeState
from opsdesk import notifications
from opsdesk.choices import Role
from opsdesk.exceptions import DomainValidationError
from opsdesk.models import Service
from opsdesk.workflow import apply_transition, log_transition

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


def _release_url(release: Release) -> str:
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
def release_create(*, by, created_at: datetime | None = None, **fields) -> Release:
    """Create a release in ``planning`` (needs ``releases.add_release``).

    ``fields``: name (required), version, services (at least one), release_manager
    (an active Release Manager; defaults to ``by`` when ``by`` is one), planned_date.
    ``created_at`` is for demo data replaying history.
    """
    _require_perm(by, "releases.add_release", "create releases")
    if "release_manager" not in fields:
        fields["release_manager"] = by if (by is not None and is_release_manager(by)) else None
    cleaned = _clean_release_fields(fields, creating=True)
    services = cleaned.pop("services")
    release = Release(**cleaned, created_at=created_at or timezone.now())
    release.save()
    release.services.set(services)
    log_transition(
        obj=release, name="create", from_state="", to_state=release.state, by=by,
        comment=f"Created by {_actor(by)}.", at=created_at,
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
        body=f"{body}\n\n{_release_url(release)}",
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
    status = deployment.get_status_display().lower()
    lines = [
        f"Deployment of {release.number} {release.name} to {deployment.environment}: {status}.",
        f"Started {timezone.localtime(deployment.started_at):%Y-%m-%d %H:%M} by {_actor(by)}.",
    ]
    if deployment.finished_at:
        lines.append(f"Finished {timezone.localtime(deployment.finished_at):%Y-%m-%d %H:%M}.")
    if deployment.incident_id:
        lines.append(f"Incident {deployment.incident.number} was opened for the failure.")
    lines.append(_release_url(release))
    notifications.notify(
        recipients=release_recipients(release),
        subject=f"{release.number} deployment to {deployment.environment} {status}",
        body="\n".join(lines),
        dedupe_key=f"release:{release.pk}:deployment:{deployment.pk}:{deployment.status}",
        about=release,
    )


def _open_incident_for_failure(deployment: Deployment) -> None:
    """Create the one incident of a failed deployment (caller holds the deployment's row lock)."""
    if deployment.incident_id is not None:
        return
    from incidents.services import incident_create

    release = deployment.release
    service = release.services.order_by("id").first()
    if service is None:
        raise DomainValidationError(f"{release.number} has no service to open the incident against.")
    failed_at = deployment.finished_at or timezone.now()
    incident = incident_create(
        by=None,
        title=f"Deployment of {release.number} to {deployment.environment} failed",
        severity="high",
        service=service,
        caused_by_release=release,
        started_at=failed_at,
        detected_at=failed_at,
        description=(
            f"The deployment of {release.number} ({release.name}"
            f"{' ' + release.version if release.version else ''}) to {deployment.environment}, "
            f"started {timezone.localtime(deployment.started_at):%Y-%m-%d %H:%M}, failed at "
            f"{timezone.localtime(failed_at):%Y-%m-%d %H:%M}. Opened automatically by OpsDesk."
        ),
    )
    deployment.incident = incident
    deployment.save(update_fields=["incident"])


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
        _open_incident_for_failure(deployment)
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
            _open_incident_for_failure(locked)  # no-op when it exists
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
        _open_incident_for_failure(locked)
    _notify_deployment(locked, by)
    return locked


# --- change → release ---------------------------------------------------------------


@transaction.atomic
def release_for_approved_change(*, change) -> Release:
    """Put an approved change into a release in ``planning`` (§3 last bullet), once.

    The change joins the oldest release in ``planning`` that covers one of its
    services (the change's other services are added to that release); without one,
    a new release "Release for CHG-…" is created in ``planning`` for the change's
    services, with no release manager (the Release Managers are told to pick it up).
    A change that already has a release keeps it. The change's services are locked,
    so two changes approved at the same time on one service share one new release.
    """
    from changes.models import ChangeRequest

    locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if locked.release_id is not None:
        change.release_id = locked.release_id
        return Release.objects.get(pk=locked.release_id)
    if locked.state not in JOINABLE_CHANGE_STATES:
        raise DomainValidationError(
            f"{locked.number} is {locked.get_state_display().lower()}: only approved changes join a release."
        )
    services = list(Service.objects.select_for_update().filter(changes=locked).order_by("id"))
    candidates = Release.objects.filter(state=ReleaseState.PLANNING, services__in=services).values("pk")
    release = (
        Release.objects.select_for_update().filter(pk__in=candidates).order_by("created_at", "id").first()
        if services else None
    )
    if release is None:
        release = Release(
            name=f"Release for {locked.number}",
            planned_date=timezone.localdate(locked.planned_start) if locked.planned_start else None,
            created_at=locked.approved_at or timezone.now(),
        )
        release.save()
        release.services.set(services)
        log_transition(
            obj=release, name="create", from_state="", to_state=release.state, by=None,
            comment=f"Created for approved change {locked.number}.", at=release.created_at,
        )
        _notify_release_managers(release, locked)
    else:
        release.services.add(*services)
    locked.release = release
    locked.save(update_fields=["release", "updated_at"])
    change.release = release
    return release


def _notify_release_managers(release: Release, change) -> None:
    managers = get_user_model().objects.filter(
        groups__name=Role.RELEASE_MANAGERS, is_active=True
    ).exclude(email="").values_list("email", flat=True)
    notifications.notify(
        recipients=[notifications.email(address) for address in managers] + release_recipients(release),
        subject=f"{release.number} created for approved change {change.number}",
        body=(
            f"{change.number} {change.title} was approved and no release in planning covered its services, "
            f"so {release.number} was created. It has no release manager yet.\n\n{_release_url(release)}"
        ),
        dedupe_key=f"release:{release.pk}:created",
        about=release,
    )


__all__ = [
    "check_record",
    "deliverable_add",
    "deliverable_errors",
    "deployment_create",
    "deployment_errors",
    "deployment_update",
    "release_create",
    "release_for_approved_change",
    "release_recipients",
    "release_transition",
    "release_update",
]
