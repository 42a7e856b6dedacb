"""Writes of the change process: create, edit, transitions, board decisions, linked incidents.

Every write of a change request comes through here (web pages, the admin board,
the API, demo data and the automation rules), so the rules live once:
only drafts are editable, freezes refuse standard and normal submissions,
standard changes are approved on submit, and the board's approvals move a
change to approved or rejected under a row lock. An approval publishes
``change.approved``; what happens next (release planning) is an automation rule.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from opsdesk import events
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.notifications import email, notify
from opsdesk.workflow import actor_id, apply_transition, log_transition, transition_refusal

from .choices import (
    APPROVAL_ROLE_GROUP,
    REQUIRED_APPROVAL_ROLES,
    ApprovalRole,
    ChangeState,
    ChangeType,
    Decision,
)
from .models import BOARD_TRANSITIONS, ChangeApproval, ChangeRequest, StandardChangeTemplate
from .selectors import approver_roles_of, freezes_covering

# The fields a change manager may set on create and edit (everything else is set by the process).
EDITABLE_FIELDS = (
    "title",
    "description",
    "change_type",
    "risk",
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
        else:
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


@transaction.atomic
def change_create(
    *, by, requester=None, at=None, created_by_rule: str | None = None, recurring_service=None, **fields
) -> ChangeRequest:
    """Create a draft change requested by ``by`` (or ``requester`` when the system creates it).

    ``at`` is the creation time (demo data replaying history; default now).
    ``created_by_rule`` and ``recurring_service`` are set by automation rules only.

    ``services`` (at least one) and ``incidents`` are lists. A standard change
    takes the plans of its template where it has none. Raises PermissionDenied
    without ``changes.add_changerequest`` and DomainValidationError for bad input.
    """
    _check_user(by, "changes.add_changerequest", "You may not create changes.")
    fields.setdefault("services", [])
    change = ChangeRequest(
        requester=by if by is not None else requester, created_at=at or timezone.now(),
        created_by_rule=created_by_rule or None, recurring_service=recurring_service,
    )
    if change.requester_id is None:
        raise DomainValidationError({"requester": "A change needs a requester."})
    m2m = _apply_fields(change, fields)
    _fill_from_template(change)
    validate_change(change)
    change.save()
    for name, values in m2m.items():
        getattr(change, name).set(values)
    return change


@transaction.atomic
def change_update(*, change: ChangeRequest, by, **fields) -> ChangeRequest:
    """Edit a draft change (only drafts are editable; a submitted change is the board's record).

    Raises PermissionDenied without ``changes.change_changerequest``,
    TransitionNotAllowed (409) when the change is no longer a draft, and
    DomainValidationError for bad input.
    """
    _check_user(by, "changes.change_changerequest", "You may not edit changes.")
    locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
    if locked.state != ChangeState.DRAFT:
        raise TransitionNotAllowed(
            f"{locked.number} is {locked.get_state_display().lower()}: only draft changes can be edited."
        )
    m2m = _apply_fields(locked, fields)
    _fill_from_template(locked)
    validate_change(locked)
    locked.save()
    for name, values in m2m.items():
        getattr(locked, name).set(values)
    return locked


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


def _freeze_message(freezes) -> str:
    names = "; ".join(
        f"“{freeze.name}” ({timezone.localtime(freeze.start):%Y-%m-%d %H:%M} – "
        f"{timezone.localtime(freeze.end):%Y-%m-%d %H:%M})"
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
            f"{timezone.localtime(change.planned_start):%Y-%m-%d %H:%M} – "
            f"{timezone.localtime(change.planned_end):%Y-%m-%d %H:%M}, "
            f"needs a decision in the role(s): {role_names}.\n{_site_url(change)}"
        ),
        dedupe_key=f"change:{change.pk}:awaiting-approval",
        about=change,
    )


def _notify_requester(change: ChangeRequest, *, decided_by, comment: str) -> None:
    requester = change.requester
    if not requester.email:
        return
    verdict = change.get_state_display().lower()
    who = f" by {decided_by.get_full_name() or decided_by.get_username()}" if decided_by is not None else ""
    notify(
        recipients=[email(requester.email)],
        subject=f"{change.number} was {verdict}: {change.title}",
        body=f"Your change {change.number} “{change.title}” was {verdict}{who}."
        + (f"\nComment: {comment}" if comment else "")
        + f"\n{_site_url(change)}",
        dedupe_key=f"change:{change.pk}:decided:{change.state}",
        about=change,
    )


def _publish_approved(change: ChangeRequest, by) -> None:
    """Tell the automation rules a change is approved (``approved_change_to_release`` plans its release)."""
    events.publish(events.ChangeApproved(change_id=change.pk, by_id=actor_id(by), at=change.approved_at))


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
    system) and notifies the approvers still needed. ``approve``/``reject`` are
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
    return change


def _decide(*, change: ChangeRequest, by, role, comment: str, decision: str, at) -> ChangeApproval:
    """Record one board decision and move the change when it settles (see change_approve)."""
    if by is None or not by.is_authenticated or not by.is_active:
        raise PermissionDenied("Only a signed-in board member can approve or reject changes.")
    comment = (comment or "").strip()
    at = at or timezone.now()
    # Lock first: two board members deciding at the same moment are serialised here,
    # so neither approval is lost and the change is approved exactly once.
    try:
        locked = ChangeRequest.objects.select_for_update(of=("self",)).select_related("requester").get(pk=change.pk)
    except ChangeRequest.DoesNotExist as exc:
        raise DomainValidationError("This change no longer exists.") from exc
    roles = approver_roles_of(by)
    if not roles:
        raise PermissionDenied(
            "You are not in a change board group (Tech Leads, Product Owners or Ops Managers)."
        )
    if role in (None, ""):
        if len(roles) > 1:
            raise DomainValidationError(
                {"role": f"You belong to several board groups: name the role ({', '.join(roles)})."}
            )
        role = roles[0]
    if role not in ApprovalRole.values:
        raise DomainValidationError({"role": f"Unknown role {role!r}: choose {', '.join(ApprovalRole.values)}."})
    role = ApprovalRole(role)
    if role not in roles:
        raise PermissionDenied(
            f"Only members of {APPROVAL_ROLE_GROUP[role]} may decide in the {role} role."
        )
    if locked.state != ChangeState.SUBMITTED:
        raise TransitionNotAllowed(
            f"{locked.number} is {locked.get_state_display().lower()}: only submitted changes can be "
            f"{'approved' if decision == Decision.APPROVED else 'rejected'}."
        )
    required = REQUIRED_APPROVAL_ROLES[locked.change_type]
    if role not in required:
        raise PermissionDenied(
            f"A {locked.get_change_type_display().lower()} change is decided by "
            f"{', '.join(required) or 'nobody (it is pre-approved)'}, not by {role}."
        )
    if locked.requester_id == by.pk:
        raise PermissionDenied("You requested this change: someone else must decide on it.")
    if decision == Decision.REJECTED and not comment:
        raise DomainValidationError({"comment": "Say why the change is rejected."})
    decisions = list(locked.approvals.select_related("approver"))
    for existing in decisions:
        if existing.approver_id == by.pk:
            raise PermissionDenied(
                f"You already decided on {locked.number} as {existing.role}: "
                "one person decides at most one role of a change."
            )
        if existing.role == role:
            raise TransitionNotAllowed(
                f"The {role} role of {locked.number} was already decided ({existing.decision}) "
                f"by {existing.approver}."
            )
    try:
        with transaction.atomic():
            approval = ChangeApproval.objects.create(
                change=locked, role=role, approver=by, decision=decision, comment=comment, decided_at=at
            )
    except IntegrityError as exc:  # the constraints: a decision raced in without the lock
        raise ConcurrentUpdate(
            f"Someone else decided on {locked.number} at the same moment. Reload and try again."
        ) from exc

    label = f"{'Approved' if decision == Decision.APPROVED else 'Rejected'} as {role}"
    note = f"{label}: {comment}" if comment else label
    if decision == Decision.REJECTED:
        locked = apply_transition(instance=locked, name="reject", by=by, comment=note, at=at)
        _notify_requester(locked, decided_by=by, comment=comment)
        return approval
    approved_roles = {d.role for d in decisions if d.decision == Decision.APPROVED} | {role}
    if set(required) <= approved_roles:
        locked = apply_transition(instance=locked, name="approve", by=by, comment=note, at=at)
        _notify_requester(locked, decided_by=by, comment=comment)
        _publish_approved(locked, by)
    else:
        log_transition(
            obj=locked, name=f"approval:{role}", from_state=locked.state, to_state=locked.state,
            by=by, comment=note, at=at,
        )
    return approval


@transaction.atomic
def change_approve(*, change: ChangeRequest, by, role: str | None = None, comment: str = "", at=None) -> ChangeApproval:
    """Approve ``change`` in ``by``'s board role.

    The role comes from the user's board group; ``role`` is required only when
    the user is in more than one (400 without it). Refused (403) for a user not
    in the role's group, for the requester, for someone who already decided
    another role of the change, and for a role the change type does not need;
    409 when the change is not submitted or the role was already decided.
    A normal change is approved once technical, business and operations have
    each approved, an emergency change on the operations approval; it then joins
    release planning and the requester is notified. The final ``approve``
    transition is logged under the approver who completed it.
    """
    return _decide(change=change, by=by, role=role, comment=comment, decision=Decision.APPROVED, at=at)


@transaction.atomic
def change_reject(*, change: ChangeRequest, by, comment: str, role: str | None = None, at=None) -> ChangeApproval:
    """Reject ``change`` in ``by``'s board role: one rejection rejects the change.

    Needs a comment (400 without); the same rules as ``change_approve`` apply.
    The requester is notified.
    """
    return _decide(change=change, by=by, role=role, comment=comment, decision=Decision.REJECTED, at=at)
