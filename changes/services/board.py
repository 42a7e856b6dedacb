"""Writes of the change advisory board: decisions in a role, and the board's meetings.

A decision is one ChangeApproval under a row lock on the change; the set of
decisions moves the change to approved or rejected. Who may decide is asked of
``selectors.decision_refusal`` (the one place of that rule). CAB meetings
record their minutes and attendees; deciding from a meeting's page calls the
same ``change_approve``/``change_reject`` as the API. An approval publishes
``change.approved``; what happens next (release planning) is an automation rule.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError
from opsdesk.notifications import email, notify
from opsdesk.workflow import apply_transition, log_transition

from .. import conflicts
from ..choices import REQUIRED_APPROVAL_ROLES, ApprovalRole, Decision
from ..models import CABMeeting, ChangeApproval, ChangeRequest
from ..selectors import approver_roles_of, decision_refusal
from .changes import _publish_approved, _site_url

MANAGE_MEETINGS_PERM = "changes.change_cabmeeting"


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


def _resolve_role(by, role) -> ApprovalRole:
    roles = approver_roles_of(by)
    if not roles:
        raise PermissionDenied("You are not in a change board group (Tech Leads, Product Owners or Ops Managers).")
    if role in (None, ""):
        if len(roles) > 1:
            raise DomainValidationError(
                {"role": f"You belong to several board groups: name the role ({', '.join(roles)})."}
            )
        return roles[0]
    if role not in ApprovalRole.values:
        raise DomainValidationError({"role": f"Unknown role {role!r}: choose {', '.join(ApprovalRole.values)}."})
    return ApprovalRole(role)


def _decide(*, change: ChangeRequest, by, role, comment: str, decision: str, at, meeting=None) -> ChangeApproval:
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
    role = _resolve_role(by, role)
    decisions = list(locked.approvals.select_related("approver"))
    refusal = decision_refusal(locked, by, role, decisions=decisions,
                               verb="approved" if decision == Decision.APPROVED else "rejected")
    if refusal is not None:  # who may not decide is told so (403/409) before what is missing (400)
        raise refusal
    if decision == Decision.REJECTED and not comment:
        raise DomainValidationError({"comment": "Say why the change is rejected."})
    try:
        with transaction.atomic():
            approval = ChangeApproval.objects.create(
                change=locked, role=role, approver=by, decision=decision, comment=comment, decided_at=at,
                meeting=meeting,
            )
    except IntegrityError as exc:  # the constraints: a decision raced in without the lock
        raise ConcurrentUpdate(
            f"Someone else decided on {locked.number} at the same moment. Reload and try again."
        ) from exc

    label = f"{'Approved' if decision == Decision.APPROVED else 'Rejected'} as {role}"
    note = f"{label}: {comment}" if comment else label
    required = REQUIRED_APPROVAL_ROLES[locked.change_type]
    if decision == Decision.REJECTED:
        locked = apply_transition(instance=locked, name="reject", by=by, comment=note, at=at)
        _notify_requester(locked, decided_by=by, comment=comment)
        conflicts.refresh_around(locked)
        return approval
    approved_roles = {d.role for d in decisions if d.decision == Decision.APPROVED} | {role}
    if set(required) <= approved_roles:
        locked = apply_transition(instance=locked, name="approve", by=by, comment=note, at=at)
        _notify_requester(locked, decided_by=by, comment=comment)
        _publish_approved(locked, by)
        conflicts.refresh_around(locked)  # an approved change is a counterpart for its neighbours
    else:
        log_transition(
            obj=locked, name=f"approval:{role}", from_state=locked.state, to_state=locked.state,
            by=by, comment=note, at=at,
        )
    return approval


@transaction.atomic
def change_approve(
    *, change: ChangeRequest, by, role: str | None = None, comment: str = "", at=None, meeting=None
) -> ChangeApproval:
    """Approve ``change`` in ``by``'s board role.

    The role comes from the user's board group; ``role`` is required only when
    the user is in more than one (400 without it). Refused (403) for a user not
    in the role's group, for the requester, for someone who already decided
    another role of the change, and for a role the change type does not need;
    409 when the change is not submitted or the role was already decided.
    A normal change is approved once technical, business and operations have
    each approved, an emergency change on the operations approval; it then
    publishes ``change.approved`` (release planning is an automation rule) and
    the requester is notified. The final ``approve`` transition is logged under
    the approver who completed it. ``meeting`` is the CAB meeting whose board
    page recorded the decision (``cab_decide``).
    """
    return _decide(change=change, by=by, role=role, comment=comment, decision=Decision.APPROVED, at=at,
                   meeting=meeting)


@transaction.atomic
def change_reject(
    *, change: ChangeRequest, by, comment: str, role: str | None = None, at=None, meeting=None
) -> ChangeApproval:
    """Reject ``change`` in ``by``'s board role: one rejection rejects the change.

    Needs a comment (400 without); the same rules as ``change_approve`` apply.
    The requester is notified.
    """
    return _decide(change=change, by=by, role=role, comment=comment, decision=Decision.REJECTED, at=at,
                   meeting=meeting)


# --- CAB meetings ---------------------------------------------------------------------------


def _check_manager(by) -> None:
    if by is not None and not (by.is_authenticated and by.is_active and by.has_perm(MANAGE_MEETINGS_PERM)):
        raise PermissionDenied("Only Change Managers may plan CAB meetings and record their minutes.")


def _validate_meeting(*, starts_at, cutoff) -> None:
    errors = {}
    if starts_at is None:
        errors["starts_at"] = "When does the meeting start?"
    if cutoff is None:
        errors["cutoff"] = "Until when must changes be submitted to be on the agenda?"
    if not errors and cutoff > starts_at:
        errors["cutoff"] = "The cutoff must be at or before the start of the meeting."
    if errors:
        raise DomainValidationError(errors)


@transaction.atomic
def cab_meeting_create(*, by, starts_at, cutoff=None, title: str = "", attendees=()) -> CABMeeting:
    """Plan a CAB meeting (Change Managers). Without ``cutoff``: 24 hours before the start."""
    _check_manager(by)
    if cutoff is None and starts_at is not None:
        cutoff = starts_at - timedelta(hours=24)
    _validate_meeting(starts_at=starts_at, cutoff=cutoff)
    meeting = CABMeeting.objects.create(title=(title or "").strip(), starts_at=starts_at, cutoff=cutoff)
    if attendees:
        meeting.attendees.set(attendees)
    return meeting


@transaction.atomic
def cab_meeting_update(*, meeting: CABMeeting, by, **fields) -> CABMeeting:
    """Move or rename a meeting, or set its attendees (``title``, ``starts_at``, ``cutoff``, ``attendees``)."""
    _check_manager(by)
    unknown = sorted(set(fields) - {"title", "starts_at", "cutoff", "attendees"})
    if unknown:
        raise DomainValidationError({name: "This field cannot be set here." for name in unknown})
    locked = CABMeeting.objects.select_for_update().get(pk=meeting.pk)
    attendees = fields.pop("attendees", None)
    for name, value in fields.items():
        setattr(locked, name, value.strip() if name == "title" else value)
    _validate_meeting(starts_at=locked.starts_at, cutoff=locked.cutoff)
    locked.save()
    if attendees is not None:
        locked.attendees.set(attendees)
    return locked


@transaction.atomic
def cab_record_minutes(*, meeting: CABMeeting, by, minutes: str, attendees=None, at=None) -> CABMeeting:
    """Record the minutes (and, when given, who attended) of a meeting (Change Managers)."""
    _check_manager(by)
    locked = CABMeeting.objects.select_for_update().get(pk=meeting.pk)
    locked.minutes = (minutes or "").strip()
    locked.minutes_recorded_by = by
    locked.minutes_recorded_at = at or timezone.now()
    locked.save()
    if attendees is not None:
        locked.attendees.set(attendees)
    return locked


@transaction.atomic
def cab_decide(*, meeting: CABMeeting, change: ChangeRequest, by, decision: str, comment: str = "",
               role: str | None = None, at=None) -> ChangeApproval:
    """Decide ``change`` from ``meeting``'s page: ``change_approve``/``change_reject``, and ``by`` attended.

    Only a change on the meeting's agenda may be decided here (400 otherwise);
    every other rule is the decision services'.
    """
    from ..selectors import cab_agenda

    if decision not in Decision.values:
        raise DomainValidationError({"decision": f"Choose {' or '.join(Decision.values)}."})
    if not cab_agenda(meeting).filter(pk=change.pk).exists():
        raise DomainValidationError(f"{change.number} is not on the agenda of {meeting}.")
    if decision == Decision.APPROVED:
        approval = change_approve(change=change, by=by, role=role, comment=comment, at=at, meeting=meeting)
    else:
        approval = change_reject(change=change, by=by, role=role, comment=comment, at=at, meeting=meeting)
    meeting.attendees.add(by)
    return approval
