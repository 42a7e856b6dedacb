"""Reads of the change process: conflicts, freezes, the board's queue, approver roles."""

from __future__ import annotations

from django.db.models import Case, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from opsdesk.roles import user_roles

from .choices import APPROVAL_ROLE_GROUP, REQUIRED_APPROVAL_ROLES, ApprovalRole, ChangeState
from .models import ChangeApproval, ChangeFreeze, ChangeRequest

# The states of the *other* change that make an overlapping window a conflict (§3).
CONFLICTING_STATES = (ChangeState.APPROVED, ChangeState.IN_PROGRESS)
# The states in which a change's own conflicts still matter (not yet finished).
OPEN_STATES = (
    ChangeState.DRAFT,
    ChangeState.SUBMITTED,
    ChangeState.APPROVED,
    ChangeState.IN_PROGRESS,
    ChangeState.VERIFYING,
)

_ServiceLink = ChangeRequest.services.through


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


def change_conflicts(change: ChangeRequest) -> QuerySet[ChangeRequest]:
    """Other approved or in-progress changes on a shared service whose planned window overlaps.

    Empty for a change without a complete window or one that is already finished.
    """
    if (
        change.pk is None
        or change.planned_start is None
        or change.planned_end is None
        or change.state not in OPEN_STATES
    ):
        return ChangeRequest.objects.none()
    return (
        ChangeRequest.objects.filter(
            state__in=CONFLICTING_STATES,
            planned_start__lt=change.planned_end,
            planned_end__gt=change.planned_start,
            pk__in=_ServiceLink.objects.filter(
                service_id__in=_ServiceLink.objects.filter(changerequest_id=change.pk).values("service_id")
            ).values("changerequest_id"),
        )
        .exclude(pk=change.pk)
        .order_by("planned_start", "pk")
    )


def conflicts_count_expression():
    """An annotation: how many conflicts each row of a ChangeRequest queryset has (one subquery)."""
    shares_a_service = _ServiceLink.objects.filter(
        changerequest_id=OuterRef("pk"),  # the other change
        service__changes=OuterRef(OuterRef("pk")),  # the annotated change
    )
    others = (
        ChangeRequest.objects.filter(
            state__in=CONFLICTING_STATES,
            planned_start__lt=OuterRef("planned_end"),
            planned_end__gt=OuterRef("planned_start"),
        )
        .exclude(pk=OuterRef("pk"))
        .filter(Exists(shares_a_service))
        .order_by()
        .annotate(total=Func(F("pk"), function="COUNT", output_field=IntegerField()))
        .values("total")
    )
    count = Coalesce(Subquery(others, output_field=IntegerField()), 0)
    # Finished changes and changes without a window show no conflicts.
    return Case(
        When(
            Q(state__in=OPEN_STATES) & Q(planned_start__isnull=False) & Q(planned_end__isnull=False),
            then=count,
        ),
        default=Value(0),
        output_field=IntegerField(),
    )


def with_conflicts_count(queryset: QuerySet[ChangeRequest]) -> QuerySet[ChangeRequest]:
    """``queryset`` annotated with ``conflicts_count``."""
    return queryset.annotate(conflicts_count=conflicts_count_expression())


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


def conflicts_by_change(changes) -> dict[int, list[ChangeRequest]]:
    """The conflicts of many changes at once (a list page): two queries whatever their number.

    ``changes`` must have their ``services`` prefetched. Same rule as ``change_conflicts``.
    """
    wanted = [
        change for change in changes
        if change.pk and change.planned_start and change.planned_end and change.state in OPEN_STATES
    ]
    result: dict[int, list[ChangeRequest]] = {change.pk: [] for change in changes if change.pk}
    service_ids = {service.pk for change in wanted for service in change.services.all()}
    if not service_ids:
        return result
    candidates = list(
        ChangeRequest.objects.filter(
            state__in=CONFLICTING_STATES,
            planned_start__lt=max(change.planned_end for change in wanted),
            planned_end__gt=min(change.planned_start for change in wanted),
            pk__in=_ServiceLink.objects.filter(service_id__in=service_ids).values("changerequest_id"),
        )
        .order_by("planned_start", "pk")
        .prefetch_related("services")
    )
    for change in wanted:
        mine = {service.pk for service in change.services.all()}
        result[change.pk] = [
            other for other in candidates
            if other.pk != change.pk
            and other.planned_start < change.planned_end
            and other.planned_end > change.planned_start
            and mine & {service.pk for service in other.services.all()}
        ]
    return result


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
