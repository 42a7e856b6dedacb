"""Web pages of change management: list, draft form, detail with actions, calendar.

The views are thin: reads come from the filterset and ``changes/selectors.py``,
every write is a call to ``changes/services.py``, whose refusals are shown as
form errors or messages (never a 500).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from incidents.selectors import incidents_visible_to
from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.pagination import EstimatedPaginator
from opsdesk.web import add_domain_errors, run_action, style_list_filters
from opsdesk.workflow import transition_history

from . import ical, selectors, services
from .choices import REQUIRED_APPROVAL_ROLES, ApprovalRole, ChangeState, ChangeType
from .filtersets import ChangeRequestFilterSet
from .forms import OUTCOME_TRANSITIONS, PAGE_TRANSITIONS, ChangeRequestForm, DecisionForm, TransitionForm
from .models import CalendarFeedToken, ChangeRequest, StandardChangeTemplate
from .tables import ChangeRequestTable

VIEW_PERM = "changes.view_changerequest"
ADD_PERM = "changes.add_changerequest"
CHANGE_PERM = "changes.change_changerequest"

# Shown on the calendar: everything planned that may still happen or has happened.
HIDDEN_FROM_CALENDAR = (ChangeState.CANCELLED, ChangeState.REJECTED)

TRANSITION_LABELS = {
    "submit": "Submit to the board",
    "start": "Start implementation",
    "verify": "Move to verifying",
    "complete": "Completed",
    "fail": "Failed",
    "roll_back": "Rolled back",
    "cancel": "Cancel change",
}


def _require(user, perm: str, message: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(message)


# --- list -------------------------------------------------------------------------------------


class ChangeListView(LoginRequiredMixin, SingleTableMixin, FilterView):
    """All changes, filtered with the shared ChangeRequestFilterSet, sorted and paginated."""

    filterset_class = ChangeRequestFilterSet
    table_class = ChangeRequestTable
    template_name = "changes/changerequest_list.html"
    # No exact COUNT(*) of 200 000 changes per page view, no offset walk to a deep page (bench/NOTES.md).
    table_pagination = {"per_page": 25, "paginator_class": EstimatedPaginator}
    strict = False

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            _require(request.user, VIEW_PERM, "Your role does not include viewing changes.")
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.changes_list().prefetch_related("approvals").order_by("-created_at", "-id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        _present_filter_form(context["filter"].form)
        context["can_create"] = self.request.user.has_perm(ADD_PERM)
        return context


def _present_filter_form(form) -> None:
    """Widgets and short labels for the list's filter bar (the filterset itself is shared)."""
    labels = {"q": "Search", "change_type": "Type", "planned_after": "Window ends after",
              "planned_before": "Window starts before", "implementer": "Implementer team"}
    for name, label in labels.items():
        if name in form.fields:
            form.fields[name].label = label
    for name in ("planned_after", "planned_before"):
        if name in form.fields:
            form.fields[name].widget.input_type = "datetime-local"
    if "in_freeze" in form.fields:
        form.fields["in_freeze"].label = "Inside a freeze"
    style_list_filters(form)
    if "q" in form.fields:
        form.fields["q"].widget.attrs["placeholder"] = "Number, title or description"


change_list = ChangeListView.as_view()


# --- create / edit ----------------------------------------------------------------------------


def _template_plans() -> dict[str, dict[str, str]]:
    """The plans of each active standard template, for the form's prefill script."""
    return {
        str(t.pk): {
            "description": t.description,
            "implementation_plan": t.implementation_plan,
            "testing_plan": t.testing_plan,
            "rollback_plan": t.rollback_plan,
        }
        for t in StandardChangeTemplate.objects.filter(active=True)
    }


def _render_form(request, form, *, change=None, status=200):
    context = {
        "form": form,
        "change": change,
        "cancel_url": reverse("changes:detail", args=[change.pk]) if change else reverse("changes:list"),
        "template_plans": _template_plans(),
    }
    return render(request, "changes/changerequest_form.html", context, status=status)


@login_required
def change_create(request):
    """A change manager drafts a new change (``services.change_create``)."""
    _require(request.user, ADD_PERM, "Only Change Managers may create changes.")
    form = ChangeRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.change_create(by=request.user, **form.service_fields())
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Draft {change.number} saved. Submit it to the board when it is ready.")
            return redirect("changes:detail", pk=change.pk)
    return _render_form(request, form, status=400 if form.errors else 200)


@login_required
def change_edit(request, pk: int):
    """A change manager edits a draft (``services.change_update``); other states are read-only."""
    _require(request.user, CHANGE_PERM, "Only Change Managers may edit changes.")
    change = get_object_or_404(ChangeRequest.objects.prefetch_related("services"), pk=pk)
    if not selectors.is_editable(change):
        messages.error(
            request,
            f"{change.number} is {change.get_state_display().lower()}: only drafts can be edited.",
        )
        return redirect("changes:detail", pk=change.pk)
    form = ChangeRequestForm(request.POST or None, instance=change)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.change_update(change=change, by=request.user, **form.service_fields())
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        except (TransitionNotAllowed, ConcurrentUpdate) as exc:  # submitted meanwhile
            messages.error(request, exc.message)
            return redirect("changes:detail", pk=change.pk)
        else:
            messages.success(request, f"Draft {change.number} saved.")
            return redirect("changes:detail", pk=change.pk)
    return _render_form(request, form, change=change, status=400 if form.errors else 200)


# --- detail -----------------------------------------------------------------------------------


@dataclass
class RoleApproval:
    """The board's state for one required role: a decision, or still waiting."""

    role: str
    label: str
    decision: object = None  # ChangeApproval or None

    @property
    def waiting(self) -> bool:
        return self.decision is None


@dataclass
class ActionButton:
    name: str
    label: str
    needs_review: bool = False
    css: str = "btn-primary"


def _approval_rows(change: ChangeRequest) -> list[RoleApproval]:
    by_role = {approval.role: approval for approval in change.approvals.all()}
    required = REQUIRED_APPROVAL_ROLES[ChangeType(change.change_type)]
    rows = [RoleApproval(role=r, label=ApprovalRole(r).label, decision=by_role.pop(r, None)) for r in required]
    # Decisions in roles the type no longer needs (e.g. the type changed) are still history.
    rows += [RoleApproval(role=r, label=ApprovalRole(r).label, decision=a) for r, a in by_role.items()]
    return rows


def _action_buttons(change: ChangeRequest, user) -> list[ActionButton]:
    allowed = set(change.available_transitions_for(user))
    needs_review = change.change_type == ChangeType.EMERGENCY
    css = {"complete": "btn-success", "fail": "btn-danger", "roll_back": "btn-warning",
           "cancel": "btn-outline-danger"}
    return [
        ActionButton(
            name=name, label=TRANSITION_LABELS[name],
            needs_review=needs_review and name in OUTCOME_TRANSITIONS,
            css=css.get(name, "btn-primary"),
        )
        for name in PAGE_TRANSITIONS
        if name in allowed
    ]


@login_required
def change_detail(request, pk: int):
    """Everything about one change, with the actions this user may take."""
    _require(request.user, VIEW_PERM, "Your role does not include viewing changes.")
    try:
        change = selectors.change_detail(pk)
    except ChangeRequest.DoesNotExist as exc:
        raise Http404("No such change.") from exc
    rows = _approval_rows(change)
    actions = _action_buttons(change, request.user)
    # Confidential incidents stay hidden from those who may not see them (SPEC §6).
    incidents = list(incidents_visible_to(request.user).filter(changes=change).order_by("-detected_at"))
    freezes = list(selectors.freezes_covering(change))
    context = {
        "change": change,
        "approval_rows": rows,
        "waiting_roles": [row.label for row in rows if row.waiting],
        "conflicts": change.conflicts,
        "incidents": incidents,
        "hidden_incidents": len(change.incidents.all()) - len(incidents),
        "freezes": freezes,
        "timeline": transition_history(change),
        "actions": actions,
        "needs_review": any(action.needs_review for action in actions),
        "decision_roles": [(role, role.label) for role in selectors.decidable_roles(change, request.user)],
        "can_edit": selectors.is_editable(change, request.user),
    }
    return render(request, "changes/changerequest_detail.html", context)


# --- actions (POST only; each calls one service and comes back to the detail page) -----------


@login_required
@require_POST
def change_transition(request, pk: int):
    """Run one transition from the detail page's buttons (``services.change_transition``)."""
    change = get_object_or_404(ChangeRequest, pk=pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That action is not available on this page.")
        return redirect("changes:detail", pk=change.pk)
    fields = form.service_fields()
    done = {}

    def act():
        done["change"] = services.change_transition(instance=change, by=request.user, **fields)

    if run_action(request, act):
        result = done["change"]
        messages.success(request, f"{result.number} is now {result.get_state_display().lower()}.")
    return redirect("changes:detail", pk=change.pk)


def _decide(request, pk: int, *, reject: bool):
    change = get_object_or_404(ChangeRequest, pk=pk)
    form = DecisionForm(request.POST, require_comment=reject)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("changes:detail", pk=change.pk)
    role = form.cleaned_data["role"] or None
    comment = form.cleaned_data["comment"]
    if reject:
        action = lambda: services.change_reject(change=change, by=request.user, role=role, comment=comment)  # noqa: E731
        success = f"You rejected {change.number}."
    else:
        action = lambda: services.change_approve(change=change, by=request.user, role=role, comment=comment)  # noqa: E731
        success = f"You approved {change.number}."
    run_action(request, action, success=success)
    return redirect("changes:detail", pk=change.pk)


@login_required
@require_POST
def change_approve(request, pk: int):
    """A board member approves in their role (``services.change_approve``)."""
    return _decide(request, pk, reject=False)


@login_required
@require_POST
def change_reject(request, pk: int):
    """A board member rejects in their role, with a comment (``services.change_reject``)."""
    return _decide(request, pk, reject=True)


# --- calendar ---------------------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    in_month: bool
    is_today: bool
    changes: list = field(default_factory=list)
    freezes: list = field(default_factory=list)


def _parse_month(value: str | None, today: date) -> tuple[date, bool]:
    """The first day of ``YYYY-MM``; (this month, False) when missing or malformed."""
    if value:
        try:
            parsed = datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            return today.replace(day=1), False
        if 1900 <= parsed.year <= 9998:
            return parsed, True
        return today.replace(day=1), False
    return today.replace(day=1), True


def _local_days(start: datetime, end: datetime, first: date, last: date):
    """The local dates a window ``[start, end)`` touches, clipped to ``[first, last]``."""
    day = max(timezone.localtime(start).date(), first)
    # A window ending exactly at midnight does not touch the next day.
    until = min(timezone.localtime(end - timedelta(microseconds=1)).date(), last)
    while day <= until:
        yield day
        day += timedelta(days=1)


@login_required
def change_calendar(request):
    """A month grid of planned windows, with change freezes shaded (two data queries)."""
    _require(request.user, VIEW_PERM, "Your role does not include viewing changes.")
    today = timezone.localdate()
    month_start, valid = _parse_month(request.GET.get("month"), today)
    if not valid:
        messages.warning(request, "Months are written YYYY-MM; showing this month instead.")
    weeks_dates = calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(
        month_start.year, month_start.month
    )
    first, last = weeks_dates[0][0], weeks_dates[-1][-1]
    tz = timezone.get_current_timezone()
    grid_start = datetime.combine(first, time.min, tzinfo=tz)
    grid_end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)

    days = {
        d: CalendarDay(day=d, in_month=d.month == month_start.month, is_today=d == today)
        for week in weeks_dates
        for d in week
    }
    changes = selectors.changes_in_window(grid_start, grid_end, exclude_states=HIDDEN_FROM_CALENDAR)
    for change in changes:
        for d in _local_days(change.planned_start, change.planned_end, first, last):
            days[d].changes.append(change)
    freezes = selectors.freezes_in_window(grid_start, grid_end)
    month_freezes = []
    for freeze in freezes:
        month_freezes.append(freeze)
        for d in _local_days(freeze.start, freeze.end, first, last):
            days[d].freezes.append(freeze)

    previous_month = (month_start - timedelta(days=1)).replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    context = {
        "month": month_start,
        "weeks": [[days[d] for d in week] for week in weeks_dates],
        "weekdays": [calendar.day_abbr[(calendar.MONDAY + i) % 7] for i in range(7)],
        "previous_month": previous_month.strftime("%Y-%m"),
        "previous_month_date": previous_month,
        "next_month_date": next_month,
        "next_month": next_month.strftime("%Y-%m"),
        "this_month": today.strftime("%Y-%m"),
        "freezes": month_freezes,
        "timezone_name": timezone.get_current_timezone_name(),
        "type_choices": ChangeType.choices,
        "state_choices": [
            (value, label) for value, label in ChangeState.choices if value not in HIDDEN_FROM_CALENDAR
        ],
        "feed_tokens": list(selectors.feed_tokens_of(request.user)[:20]),
        # The plain token is shown once, right after it was issued (then only its prefix).
        "new_feed_url": request.session.pop(NEW_FEED_URL_SESSION_KEY, None),
        "api_feed_url": request.build_absolute_uri(reverse("change-calendar-feed")),
    }
    return render(request, "changes/changerequest_calendar.html", context)


# --- calendar feed ----------------------------------------------------------------------------

NEW_FEED_URL_SESSION_KEY = "changes:new-feed-url"


@login_required
@require_POST
def feed_token_issue(request):
    """Issue a calendar feed token for the signed-in user; its URL is shown once on the calendar page."""
    name = request.POST.get("name", "")
    done = {}

    def act():
        done["token"], done["plain"] = services.feed_token_issue(user=request.user, by=request.user, name=name)

    if run_action(request, act):
        url = request.build_absolute_uri(reverse("changes:calendar-feed")) + "?token=" + done["plain"]
        request.session[NEW_FEED_URL_SESSION_KEY] = url
        messages.success(request, f"Feed token “{done['token'].name}” issued. Copy its address now: "
                                  "it is shown only this once.")
    return redirect("changes:calendar")


@login_required
@require_POST
def feed_token_revoke(request, pk: int):
    """Revoke one of the signed-in user's feed tokens."""
    token = get_object_or_404(CalendarFeedToken, pk=pk, user=request.user)
    run_action(request, lambda: services.feed_token_revoke(token=token, by=request.user),
               success=f"Feed token “{token.name}” revoked: calendars using it stop updating.")
    return redirect("changes:calendar")


def calendar_feed(request):
    """GET /changes/calendar.ics?token=…: the iCalendar feed for calendar clients (no session needed)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    user = services.feed_token_user(request.GET.get("token"))
    if user is None:
        return HttpResponseForbidden(
            "Unknown or revoked calendar feed token. Issue a new one on the change calendar page.",
            content_type="text/plain; charset=utf-8",
        )
    body = ical.build_calendar(selectors.feed_changes(), selectors.feed_freezes())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="opsdesk-changes.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
