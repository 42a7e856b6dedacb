"""Reads of the change process: who may decide or edit, freezes, the board's queue and meetings,
the failure history behind the risk score, the calendar feed's events."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet

from opsdesk.exceptions import TransitionNotAllowed
from opsdesk.roles import user_roles

from .choices import APPROVAL_ROLE_GROUP, REQUIRED_APPROVAL_ROLES, ApprovalRole, ChangeState, ChangeType
from .models import CABMeeting, CalendarFeedToken, ChangeApproval, ChangeFreeze, ChangeRequest

# Only drafts are editable: once submitted, a change is the board's record.
EDITABLE_STATES = (ChangeState.DRAFT,)
# How far back the risk score looks at failed and rolled-back changes (§3.1).
FAILURE_HISTORY_DAYS = 180
# The calendar feed's changes (§3.1): planned and not yet finished.
FEED_STATES = (ChangeState.SUBMITTED, ChangeState.APPROVED, ChangeState.IN_PROGRESS, ChangeState.VERIFYING)

_ServiceLink = ChangeRequest.services.through
_Incident = ChangeRequest.incidents.field.related_model


def changes_list() -> QuerySet[ChangeRequest]:
    """Every change with what a list row shows (requester, implementer, template, services)."""
    return ChangeRequest.objects.select_related("requester", "implementer", "template", "release").prefetch_related(
        "services"
    )


def change_detail(pk: int) -> ChangeRequest:
    """One change with its services, incidents, approvals and approvers (raises DoesNotExist)."""
    return (
        ChangeRequest.objects.select_related("requester", "implementer", "template", "release")
        .prefetch_related("services", "incidents", "approvals__approver")
        .get(pk=pk)
    )


def approver_roles_of(user) -> list[ApprovalRole]:
    """The board roles ``user`` may decide in (from their groups), in technical/business/operations order."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    groups = user_roles(user)
    return [role for role, group in APPROVAL_ROLE_GROUP.items() if group in groups]


def freezes_covering(change: ChangeRequest) -> QuerySet[ChangeFreeze]:
    """Freezes whose window overlaps the change's planned window on one of its services (or all)."""
    if change.pk is None or change.planned_start is None or change.planned_end is None:
        return ChangeFreeze.objects.none()
    return (
        ChangeFreeze.objects.filter(start__lt=change.planned_end, end__gt=change.planned_start)
        .filter(
            Q(services__isnull=True)
            | Q(pk__in=ChangeFreeze.services.through.objects.filter(
                service_id__in=_ServiceLink.objects.filter(changerequest_id=change.pk).values("service_id")
            ).values("changefreeze_id"))
        )
        .distinct()
        .order_by("start", "pk")
    )


def awaiting_approval_filter(user) -> Q | None:
    """The Q selecting submitted changes waiting on ``user``'s decision (None: never any)."""
    roles = approver_roles_of(user)
    if not roles:
        return None
    waiting_on_a_role = Q(pk__in=[])
    for role in roles:
        types = [change_type for change_type, needed in REQUIRED_APPROVAL_ROLES.items() if role in needed]
        waiting_on_a_role |= Q(change_type__in=types) & ~Exists(
            ChangeApproval.objects.filter(change=OuterRef("pk"), role=role)
        )
    return (
        Q(state=ChangeState.SUBMITTED)
        & ~Q(requester=user)
        & ~Exists(ChangeApproval.objects.filter(change=OuterRef("pk"), approver=user))
        & waiting_on_a_role
    )


def changes_awaiting_approval_by(user) -> QuerySet[ChangeRequest]:
    """Submitted changes where one of ``user``'s board roles has not decided yet.

    Excludes changes the user requested and changes the user already decided in
    another role (one person decides at most one role of a change).
    """
    condition = awaiting_approval_filter(user)
    if condition is None:
        return ChangeRequest.objects.none()
    return changes_list().filter(condition).order_by("planned_start", "pk")


def is_editable(change: ChangeRequest, user=None) -> bool:
    """May ``change`` still be edited — and by ``user``, when given (the one rule every screen asks)?"""
    if change.state not in EDITABLE_STATES:
        return False
    return user is None or (user.is_authenticated and user.is_active and user.has_perm("changes.change_changerequest"))


def decision_refusal(
    change: ChangeRequest, user, role: str, *, decisions=None, verb: str = "decided"
) -> Exception | None:
    """Why ``user`` may not decide ``change`` in ``role`` now, or None (the one rule of who decides).

    ``decisions`` are the change's approvals (default: ``change.approvals.all()``,
    prefetched by list pages; the service passes the rows it read under its lock).
    403 (PermissionDenied): not in the role's group, a role the type does not need,
    the requester, someone who decided another role. 409 (TransitionNotAllowed):
    the change is not submitted, or the role was already decided.
    """
    role = ApprovalRole(role)
    if role not in approver_roles_of(user):
        return PermissionDenied(f"Only members of {APPROVAL_ROLE_GROUP[role]} may decide in the {role} role.")
    if change.state != ChangeState.SUBMITTED:
        return TransitionNotAllowed(
            f"{change.number} is {change.get_state_display().lower()}: only submitted changes can be {verb}."
        )
    required = REQUIRED_APPROVAL_ROLES[change.change_type]
    if role not in required:
        return PermissionDenied(
            f"A {change.get_change_type_display().lower()} change is decided by "
            f"{', '.join(required) or 'nobody (it is pre-approved)'}, not by {role}."
        )
    if change.requester_id == user.pk:
        return PermissionDenied("You requested this change: someone else must decide on it.")
    for existing in change.approvals.all() if decisions is None else decisions:
        if existing.approver_id == user.pk:
            return PermissionDenied(
                f"You already decided on {change.number} as {existing.role}: "
                "one person decides at most one role of a change."
            )
        if existing.role == role:
            return TransitionNotAllowed(
                f"The {role} role of {change.number} was already decided ({existing.decision}) "
                f"by {existing.approver}."
            )
    return None


def decidable_roles(change: ChangeRequest, user) -> list[ApprovalRole]:
    """The roles ``user`` could decide ``change`` in now (uses prefetched approvals)."""
    return [role for role in approver_roles_of(user) if decision_refusal(change, user, role) is None]


def failure_history(service_ids, *, now: datetime, exclude_pk: int | None = None) -> tuple[int, int]:
    """(failed or rolled back, all finished) changes on any of ``service_ids`` in the last 180 days.

    One aggregate query, however many changes there are.
    """
    ids = list(service_ids)
    if not ids:
        return 0, 0
    finished = ChangeRequest.objects.filter(
        state__in=(ChangeState.COMPLETED, ChangeState.FAILED, ChangeState.ROLLED_BACK),
        actual_end__gte=now - timedelta(days=FAILURE_HISTORY_DAYS),
        actual_end__lt=now,
        pk__in=_ServiceLink.objects.filter(service_id__in=ids).values("changerequest_id"),
    )
    if exclude_pk:
        finished = finished.exclude(pk=exclude_pk)
    totals = finished.aggregate(
        total=Count("pk"), failed=Count("pk", filter=Q(state__in=(ChangeState.FAILED, ChangeState.ROLLED_BACK)))
    )
    return totals["failed"], totals["total"]


def pending_roles(change: ChangeRequest) -> list[ApprovalRole]:
    """The required roles of ``change`` that have not decided yet (uses prefetched approvals)."""
    decided = {approval.role for approval in change.approvals.all()}
    return [role for role in REQUIRED_APPROVAL_ROLES[change.change_type] if role not in decided]


def approval_summary(change: ChangeRequest) -> str:
    """E.g. ``2/3: technical ✓ business ✓`` (uses prefetched approvals)."""
    required = REQUIRED_APPROVAL_ROLES[change.change_type]
    if not required:
        return "pre-approved" if change.approved_at else "—"
    decisions = {approval.role: approval.decision for approval in change.approvals.all()}
    approved = sum(1 for role in required if decisions.get(role) == "approved")
    marks = [
        f"{role} {'✓' if decisions[role] == 'approved' else '✗'}" for role in required if role in decisions
    ]
    return f"{approved}/{len(required)}" + (": " + " ".join(marks) if marks else "")


def changes_in_window(start, end, *, exclude_states=()) -> QuerySet[ChangeRequest]:
    """Changes whose planned window overlaps ``[start, end)``, earliest first (the calendar's read)."""
    return (
        ChangeRequest.objects.filter(planned_start__lt=end, planned_end__gt=start)
        .exclude(state__in=exclude_states)
        .only("pk", "number", "title", "change_type", "state", "planned_start", "planned_end", "in_freeze")
        .order_by("planned_start", "number")
    )


def freezes_in_window(start, end) -> QuerySet[ChangeFreeze]:
    """Change freezes overlapping ``[start, end)``, with their services."""
    return ChangeFreeze.objects.filter(start__lt=end, end__gt=start).prefetch_related("services")


# --- the board's meetings -------------------------------------------------------------------


def _board_rows(queryset: QuerySet[ChangeRequest]) -> QuerySet[ChangeRequest]:
    """What an agenda card shows: requester, implementer, services, decisions with their approvers."""
    return queryset.select_related("requester", "implementer", "template").prefetch_related(
        "services", Prefetch("approvals", queryset=ChangeApproval.objects.select_related("approver"))
    )


def cab_agenda(meeting: CABMeeting) -> QuerySet[ChangeRequest]:
    """Every normal change submitted before the cutoff and still awaiting a decision, oldest first."""
    return _board_rows(
        ChangeRequest.objects.filter(
            change_type=ChangeType.NORMAL, state=ChangeState.SUBMITTED, submitted_at__lt=meeting.cutoff
        )
    ).order_by("submitted_at", "pk")


def cab_decided(meeting: CABMeeting) -> QuerySet[ChangeRequest]:
    """Changes the board settled (approved or rejected) with a decision recorded on this meeting's page."""
    return _board_rows(
        ChangeRequest.objects.filter(
            Exists(ChangeApproval.objects.filter(change=OuterRef("pk"), meeting=meeting))
        ).exclude(state__in=(ChangeState.DRAFT, ChangeState.SUBMITTED))
    ).order_by("submitted_at", "pk")


def cab_meetings() -> QuerySet[CABMeeting]:
    return CABMeeting.objects.prefetch_related("attendees")


# --- the calendar feed ----------------------------------------------------------------------


def feed_changes() -> QuerySet[ChangeRequest]:
    """The changes of the calendar feed: submitted to verifying, with a planned window."""
    return (
        ChangeRequest.objects.filter(
            state__in=FEED_STATES, planned_start__isnull=False, planned_end__isnull=False
        )
        .select_related("implementer")
        .prefetch_related(
            "services",
            Prefetch("incidents", queryset=_Incident.objects.only("pk", "number", "confidential").order_by("number")),
        )
        .order_by("planned_start", "pk")
    )


def feed_freezes() -> QuerySet[ChangeFreeze]:
    return ChangeFreeze.objects.prefetch_related("services").order_by("start", "pk")


def feed_tokens_of(user) -> QuerySet[CalendarFeedToken]:
    """A user's feed tokens, active first, newest first."""
    return CalendarFeedToken.objects.filter(user=user).order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at", "-id"
    )
