"""Writes of a change request: create, edit (drafts), the risk override and transitions.

Every write of a change request comes through here (web pages, the admin board,
the API, demo data and the automation rules), so the rules live once: only drafts are editable
(``selectors.is_editable``), the risk score is recomputed on every edit and
at submission (``risk.apply_risk``), conflicts are recomputed whenever the
window, the services, the implementer or the state change
(``changes.conflicts``), freezes refuse standard and normal submissions, and
standard changes are approved on submit.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from opsdesk import events
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.notifications import email, notify
from opsdesk.services import refuse_archived
from opsdesk.templatetags.opsdesk_format import format_when
from opsdesk.workflow import actor_id, apply_transition, log_transition, transition_refusal

from .. import conflicts
from ..choices import APPROVAL_ROLE_GROUP, REQUIRED_APPROVAL_ROLES, ChangeState, ChangeType, Risk
from ..models import BOARD_TRANSITIONS, ChangeRequest, StandardChangeTemplate
from ..selectors import freezes_covering, is_editable
from .risk import apply_risk, validate_risk_answers

# The fields a change manager may set on create and edit (everything else is set by the process).
EDITABLE_FIELDS = (
    "title",
    "description",
    "change_type",
    "risk",
    "risk_answers",
    "risk_override_reason",
    "impact_assessment",
    "business_justification",
    "implementation_plan",
    "testing_plan",
    "rollback_plan",
    "post_implementation_review",
    "planned_start",
    "planned_end",
    "implementer",
    "template",
    "release",
    "services",
    "incidents",
)
_M2M_FIELDS = ("services", "incidents")
OVERRIDE_RISK_PERM = "changes.override_risk_changerequest"


def _site_url(change: ChangeRequest) -> str:
    return f"{settings.OPSDESK_BASE_URL.rstrip('/')}/changes/{change.pk}/"


def _check_user(by, perm: str, message: str) -> None:
    if by is None:  # the system
        return
    if not by.is_authenticated or not by.is_active or not by.has_perm(perm):
        raise PermissionDenied(message)


def _apply_fields(change: ChangeRequest, fields: dict) -> dict:
    """Set plain fields on ``change``; return the many-to-many values to set after saving."""
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise DomainValidationError({name: "This field cannot be set here." for name in unknown})
    m2m = {}
    for name, value in fields.items():
        if name in _M2M_FIELDS:
            m2m[name] = list(value or [])
        elif name == "risk_answers":
            change.risk_answers = validate_risk_answers(value)
        elif name == "risk_override_reason":
            change.risk_override_reason = (value or "").strip()
        elif name != "risk":  # the risk is settled by _settle_risk
            setattr(change, name, value)
    if "services" in m2m and not m2m["services"]:
        raise DomainValidationError({"services": "Name at least one service the change touches."})
    return m2m


def validate_change(change: ChangeRequest) -> None:
    """Field rules that hold for every draft (the submit rules are in the model); raises DomainValidationError.

    Also used by the admin form, so its errors show on the fields.
    """
    try:
        change.full_clean(exclude=["requester", "number", "state"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise DomainValidationError(exc.message_dict) from exc
    errors = {}
    if change.planned_start and change.planned_end and change.planned_start >= change.planned_end:
        errors["planned_end"] = "The planned window must end after it starts."
    if change.template_id is not None:
        if change.change_type != ChangeType.STANDARD:
            errors["template"] = "Only a standard change uses a standard change template."
        elif not change.template.active:
            errors["template"] = f"The template “{change.template}” is no longer active."
    if errors:
        raise DomainValidationError(errors)


def _fill_from_template(change: ChangeRequest) -> None:
    """A standard change starts from its template's plans where the change has none."""
    template: StandardChangeTemplate | None = change.template
    if template is None:
        return
    for name in ("implementation_plan", "testing_plan", "rollback_plan"):
        if not getattr(change, name).strip():
            setattr(change, name, getattr(template, name))
    if not change.description.strip():
        change.description = template.description


def _service_ids(change: ChangeRequest, m2m: dict) -> list[int]:
    if "services" in m2m:
        return [getattr(service, "pk", service) for service in m2m["services"]]
    if change.pk is None:
        return []
    return list(change.services.values_list("pk", flat=True))


def _settle_risk(change: ChangeRequest, *, by, requested: str | None, previous: tuple[str, str], service_ids,
                 at) -> str | None:
    """Score the change and decide its ``risk``; returns the log comment of an override (or None).

    Without ``risk_override_reason`` the risk is the score's, and asking for
    another one is a 400. With a reason, the requested (or kept) risk stands —
    only for holders of ``changes.override_risk_changerequest`` (Change Managers).
    """
    assessment = apply_risk(change, service_ids=service_ids, now=at)
    reason = change.risk_override_reason
    if requested not in (None, "") and requested not in Risk.values:
        raise DomainValidationError({"risk": f"Choose one of {', '.join(Risk.values)}."})
    if not reason:
        if requested not in (None, "") and requested != assessment.risk:
            raise DomainValidationError({
                "risk": f"The risk follows the score ({assessment.score}: {assessment.risk.label.lower()}). "
                "To set another risk, give a risk_override_reason."
            })
        change.risk = assessment.risk
        return "Risk override removed: the risk follows the score again." if previous[1] else None
    if by is not None and not by.has_perm(OVERRIDE_RISK_PERM):
        raise PermissionDenied("Only Change Managers may override the computed risk.")
    if requested not in (None, ""):
        change.risk = requested
    if (change.risk, reason) == previous:
        return None
    return (
        f"Risk overridden to {Risk(change.risk).label.lower()} (score {assessment.score}: "
        f"{assessment.risk.label.lower()}). Reason: {reason}"
    )


def _log_risk(change: ChangeRequest, comment: str | None, *, by, at) -> None:
    if comment:
        log_transition(obj=change, name="risk_override", from_state=change.state, to_state=change.state, by=by,
                       comment=comment, at=at)


def _save_draft(change: ChangeRequest, fields: dict, *, by, at, previous: tuple[str, str]) -> ChangeRequest:
    """Apply ``fields`` to a draft, check it, score it, save it, log an override, recompute conflicts."""
    m2m = _apply_fields(change, fields)
    _fill_from_template(change)
    validate_change(change)
    override = _settle_risk(change, by=by, requested=fields.get("risk"), previous=previous,
                            service_ids=_service_ids(change, m2m), at=at)
    change.save()
    for name, values in m2m.items():
        getattr(change, name).set(values)
    _log_risk(change, override, by=by, at=at)
    conflicts.refresh_around(change)
    return change


@transaction.atomic
def change_create(
    *, by, requester=None, at=None, created_by_rule: str | None = None, recurring_service=None, **fields
) -> ChangeRequest:
    """Create a draft change requested by ``by`` (or ``requester`` when the system creates it).

    ``at`` is the creation time (demo data replaying history; default now).
    ``created_by_rule`` and ``recurring_service`` are set by automation rules only.

    ``services`` (at least one) and ``incidents`` are lists; ``risk_answers`` is
    the questionnaire (partial is fine for a draft). A standard change takes the
    plans of its template where it has none. The risk score and the conflicts
    are computed. Raises PermissionDenied without ``changes.add_changerequest``
    (or when overriding the risk without the right) and DomainValidationError
    for bad input.
    """
    _check_user(by, "changes.add_changerequest", "You may not create changes.")
    refuse_archived(services=list(fields.get("services") or []), implementer=fields.get("implementer"))
    at = at or timezone.now()
    fields.setdefault("services", [])
    change = ChangeRequest(
        requester=by if by is not None else requester, created_at=at,
        created_by_rule=created_by_rule or None, recurring_service=recurring_service,
    )
    if change.requester_id is None:
        raise DomainValidationError({"requester": "A change needs a requester."})
    return _save_draft(change, fields, by=by, at=at, previous=(change.risk, ""))


@transaction.atomic
def change_update(*, change: ChangeRequest, by, at=None, **fields) -> ChangeRequest:
    """Edit a draft change (only drafts are editable; a submitted change is the board's record).

    The risk score is recomputed, and so are the conflicts when the window, the
    services or the implementer changed. An override of the risk (with
    ``risk_override_reason``) is logged. Raises PermissionDenied without
    ``changes.change_changerequest``, TransitionNotAllowed (409) when the change
    is no longer a draft, and DomainValidationError for bad input.
    """
    _check_user(by, "changes.change_changerequest", "You may not edit changes.")
    at = at or timezone.now()
    locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if not is_editable(locked):
        raise TransitionNotAllowed(
            f"{locked.number} is {locked.get_state_display().lower()}: only draft changes can be edited."
        )
    return _save_draft(locked, fields, by=by, at=at, previous=(locked.risk, locked.risk_override_reason))


# A change collects the incidents that motivate it until its work is done.
INCIDENT_COLLECTING_STATES = (
    ChangeState.DRAFT, ChangeState.SUBMITTED, ChangeState.APPROVED, ChangeState.IN_PROGRESS, ChangeState.VERIFYING,
)


@transaction.atomic
def change_link_incidents(
    *, change: ChangeRequest, by, incidents, comment: str = "", at=None
) -> ChangeRequest:
    """Link more incidents to an open change (draft to verifying); needs ``changes.change_changerequest``.

    Unlike ``change_update`` this works after submission: the incidents that
    motivate a change keep arriving while it is planned and carried out. Logged
    as a ``link_incidents`` event with ``comment``.
    """
    _check_user(by, "changes.change_changerequest", "You may not edit changes.")
    locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if locked.state not in INCIDENT_COLLECTING_STATES:
        raise TransitionNotAllowed(
            f"{locked.number} is {locked.get_state_display().lower()}: it takes no more incidents."
        )
    locked.incidents.add(*incidents)
    log_transition(
        obj=locked, name="link_incidents", from_state=locked.state, to_state=locked.state, by=by, comment=comment,
        at=at,
    )
    return locked


def _publish_approved(change: ChangeRequest, by) -> None:
    """Tell the automation rules a change is approved (``approved_change_to_release`` plans its release)."""
    events.publish(events.ChangeApproved(change_id=change.pk, by_id=actor_id(by), at=change.approved_at))


def _freeze_message(freezes) -> str:
    names = "; ".join(
        f"“{freeze.name}” ({format_when(freeze.start)} – {format_when(freeze.end)})"
        for freeze in freezes
    )
    return (
        f"The planned window falls inside the change freeze {names}. "
        "Move the window, or raise an emergency change."
    )


def _notify_approvers(change: ChangeRequest, roles) -> None:
    """Tell the members of each still-needed board role that the change awaits them (one query)."""
    if not roles:
        return
    groups = [APPROVAL_ROLE_GROUP[role] for role in roles]
    addresses = (
        get_user_model()
        .objects.filter(groups__name__in=groups, is_active=True)
        .exclude(pk=change.requester_id)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    role_names = ", ".join(str(role) for role in roles)
    notify(
        recipients=[email(address) for address in sorted(addresses)],
        subject=f"{change.number} awaits your approval ({role_names}): {change.title}",
        body=(
            f"{change.get_change_type_display()} change {change.number} “{change.title}”, "
            f"{change.get_risk_display().lower()} risk, planned "
            f"{format_when(change.planned_start)} – {format_when(change.planned_end)}, "
            f"needs a decision in the role(s): {role_names}.\n{_site_url(change)}"
        ),
        dedupe_key=f"change:{change.pk}:awaiting-approval",
        about=change,
    )


@transaction.atomic
def change_transition(
    *,
    instance: ChangeRequest,
    name: str,
    by,
    comment: str = "",
    expected_state: str | None = None,
    at=None,
    **fields,
) -> ChangeRequest:
    """Run transition ``name`` of a change for ``by`` (None = the system).

    ``submit`` refuses a standard or normal change planned inside a change freeze
    (400, naming the freeze), flags an emergency one (``in_freeze``), approves a
    standard change at once (``approved_at = submitted_at``, logged as the
    system) and notifies the approvers still needed; it recomputes the risk
    score first (a standard change must compute low). Every transition
    recomputes the conflicts of the change and its neighbours. ``approve``/``reject`` are
    refused here: the board decides through ``change_approve``/``change_reject``.
    The outcome transitions take ``post_implementation_review``.
    """
    if name in BOARD_TRANSITIONS:
        raise PermissionDenied(
            f"Changes are {name}d by the board: record a decision with the {name} action in your role."
        )
    fields.pop("in_freeze", None)
    if name == "submit":
        locked = ChangeRequest.objects.select_for_update().get(pk=instance.pk)
        # A stale expected_state is reported by apply_transition (409) before anything else.
        if expected_state is None or locked.state == expected_state:
            refusal = transition_refusal(locked, name, by)
            if refusal is not None:
                raise refusal
            freezes = list(freezes_covering(locked))
            if freezes and locked.change_type != ChangeType.EMERGENCY:
                raise DomainValidationError({"planned_start": _freeze_message(freezes)})
            fields["in_freeze"] = bool(freezes)
            # The board sees the score as of submission (the history may have moved since the draft).
            apply_risk(locked, service_ids=locked.services.values_list("pk", flat=True), now=at or timezone.now())
            locked.save()
    change = apply_transition(
        instance=instance, name=name, by=by, comment=comment, expected_state=expected_state, at=at, **fields
    )
    if name == "submit":
        if change.change_type == ChangeType.STANDARD:
            change = apply_transition(
                instance=change,
                name="approve",
                by=None,
                comment=f"Standard change: pre-approved by the template “{change.template}”.",
                at=change.submitted_at,
            )
            _publish_approved(change, by)
        else:
            _notify_approvers(change, REQUIRED_APPROVAL_ROLES[change.change_type])
    conflicts.refresh_around(change)
    return change
