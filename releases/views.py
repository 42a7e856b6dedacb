"""Web pages of release management: list, calendar, detail with the phase stepper, forms.

Views are thin: reads come from ``releases/selectors.py`` and the filterset, writes
are calls to ``releases/services.py``; refusals become form errors or messages
(a gate names what is missing), a forbidden action the 403 page.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from changes.selectors import freezes_in_window
from opsdesk.exceptions import DomainValidationError
from opsdesk.web import add_domain_errors, run_action, style_list_filters
from opsdesk.workflow import transition_refusal

from . import selectors, services
from .choices import ReleaseState
from .filtersets import ReleaseFilterSet
from .forms import CheckForm, DeliverableForm, DeploymentForm, DeploymentStatusForm, ReleaseForm, TransitionForm
from .gates import APPROVED_CHANGE_STATES, IGNORED_CHANGE_STATES, gate_status
from .models import Deployment, Release
from .tables import STATE_BADGES, ReleaseTable

VIEW_PERM = "releases.view_release"
PAGE_SIZE = 25

TRANSITION_LABELS = {
    "prepare": ("Start preparation", "primary"),
    "implement": ("Start implementation", "primary"),
    "verify": ("Start verification", "primary"),
    "complete": ("Complete release", "success"),
    "fail": ("Mark failed", "outline-danger"),
    "roll_back": ("Mark rolled back", "outline-danger"),
    "cancel": ("Cancel release", "outline-secondary"),
}


def _require(user, perm: str, message: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(message)


def _release_or_404(pk: int) -> Release:
    try:
        return selectors.release_detail(pk)
    except Release.DoesNotExist as exc:
        raise Http404("No such release.") from exc


# --- list and calendar ----------------------------------------------------------------


@login_required
def release_list(request):
    """All releases: filters (state, service, manager, planned dates, search), sortable, paginated."""
    _require(request.user, VIEW_PERM, "Your role does not include viewing releases.")
    filterset = ReleaseFilterSet(request.GET or None, queryset=selectors.releases_list())
    style_list_filters(filterset.form)
    table = ReleaseTable(filterset.qs)
    RequestConfig(request, paginate={"per_page": PAGE_SIZE}).configure(table)
    return render(
        request,
        "releases/release_list.html",
        {"filter": filterset, "table": table, "can_add": request.user.has_perm("releases.add_release")},
    )


def _parse_month(value: str | None) -> date | None:
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except (AttributeError, ValueError):
        return None


@login_required
def release_calendar(request):
    """A month grid (``?month=YYYY-MM``) of planned release dates and completions."""
    _require(request.user, VIEW_PERM, "Your role does not include viewing releases.")
    today = timezone.localdate()
    month = _parse_month(request.GET.get("month"))
    if month is None:
        if request.GET.get("month"):
            messages.warning(request, "Give the month as YYYY-MM; showing this month.")
        month = today.replace(day=1)
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    weeks = selectors.release_calendar(month.year, month.month)
    first_day, last_day = weeks[0][0].day, weeks[-1][-1].day
    zone = timezone.get_current_timezone()
    freezes = list(freezes_in_window(
        datetime.combine(first_day, time.min, tzinfo=zone), datetime.combine(last_day + timedelta(days=1), time.min,
                                                                              tzinfo=zone),
    ).order_by("start"))
    for week in weeks:
        for day in week:
            for release in day.planned:
                release.badge = STATE_BADGES.get(release.state, "secondary")
            start = datetime.combine(day.day, time.min, tzinfo=zone)
            day.freezes = [f for f in freezes if f.start < start + timedelta(days=1) and f.end > start]
    return render(
        request,
        "releases/release_calendar.html",
        {
            "month": month,
            "weeks": weeks,
            "freezes": freezes,
            "state_badges": [(label, STATE_BADGES.get(value, "secondary")) for value, label in ReleaseState.choices],
            "previous": previous,
            "following": following,
            "today": today,
            "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        },
    )


# --- detail -----------------------------------------------------------------------------


def _first_missing(release: Release, prefix: str) -> str | None:
    """The first deliverable / check kind a gate still needs (to preselect it in the forms)."""
    for missing in gate_status(release).values():
        for item in missing:
            if item.startswith(prefix):
                return item.removeprefix(prefix)
    return None


def _detail_context(request, release: Release, **forms) -> dict:
    user = request.user
    history = selectors.release_history(release)
    may_write = release.state not in services.CLOSED_STATES
    transitions = []
    for name in TRANSITION_LABELS:  # button order: forward gates first, then the exits
        refusal = transition_refusal(release, name, user)
        missing = getattr(refusal, "missing", [])
        if refusal is None or missing:  # a gate that does not hold yet is shown, naming what it needs
            transitions.append({
                "name": name, "label": TRANSITION_LABELS[name][0], "style": TRANSITION_LABELS[name][1],
                "missing": release.blocker_labels(missing),
            })
    incidents = list(selectors.incidents_caused_by(release, user))
    visible_incident_ids = {incident.pk for incident in incidents}
    deployments = list(release.deployments.all())
    status_forms = {
        d.pk: forms.get("status_forms", {}).get(d.pk) or DeploymentStatusForm(prefix=f"dep{d.pk}")
        for d in deployments if d.status == "running"
    }
    return {
        "release": release,
        "badge": STATE_BADGES.get(release.state, "secondary"),
        "phases": selectors.release_pipeline(release, history),
        "gates": selectors.release_gates(release),
        "history": history,
        "changes": [
            {"change": c, "approved": c.state in APPROVED_CHANGE_STATES, "ignored": c.state in IGNORED_CHANGE_STATES}
            for c in release.changes.all()
        ],
        "deliverables": list(release.deliverables.all()),
        "checks": list(release.checks.all()),
        "deployments": [
            {"deployment": d, "status_form": status_forms.get(d.pk),
             "incident_visible": d.incident_id in visible_incident_ids}
            for d in deployments
        ],
        "incidents": incidents,
        "transitions": transitions,
        "transition_form": TransitionForm(initial={"expected_state": release.state}),
        "deliverable_form": forms.get("deliverable_form") or DeliverableForm(
            initial={"kind": _first_missing(release, "deliverable ")}
        ),
        "deployment_form": forms.get("deployment_form") or DeploymentForm(),
        "check_form": forms.get("check_form") or CheckForm(initial={"kind": _first_missing(release, "passed ")}),
        "can_edit": may_write and user.has_perm("releases.change_release"),
        "can_add_deliverable": may_write and user.has_perm("releases.add_releasedeliverable"),
        "can_deploy": release.state in services.DEPLOYABLE_STATES and user.has_perm("releases.add_deployment"),
        "can_update_deployment": user.has_perm("releases.change_deployment"),
        "can_check": may_write and user.has_perm("releases.add_releasecheck"),
        "closed": release.state in services.CLOSED_STATES,
        "is_terminal_failure": release.state in (ReleaseState.FAILED, ReleaseState.ROLLED_BACK,
                                                 ReleaseState.CANCELLED),
    }


@login_required
def release_detail(request, pk: int):
    """The release page: phase stepper with gate checklists, changes, deliverables,
    deployments, checks, caused incidents, history and the actions the user may take."""
    _require(request.user, VIEW_PERM, "Your role does not include viewing releases.")
    release = _release_or_404(pk)
    return render(request, "releases/release_detail.html", _detail_context(request, release))


def _detail_with_errors(request, release_pk: int, **forms):
    release = _release_or_404(release_pk)
    return render(request, "releases/release_detail.html", _detail_context(request, release, **forms), status=400)


# --- create / edit --------------------------------------------------------------------


@login_required
def release_create(request):
    """Create a release (Release Managers)."""
    _require(request.user, "releases.add_release", "Only Release Managers create releases.")
    form = ReleaseForm(request.POST or None, initial={"release_manager": request.user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            release = services.release_create(by=request.user, **form.cleaned_data)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"{release.number} created in planning.")
            return redirect(release)
    return render(request, "releases/release_form.html", {"form": form, "release": None})


@login_required
def release_edit(request, pk: int):
    """Edit an open release's name, version, services, manager and planned date (Release Managers)."""
    _require(request.user, "releases.change_release", "Only Release Managers edit releases.")
    release = get_object_or_404(Release, pk=pk)
    initial = {
        "name": release.name, "version": release.version, "services": list(release.services.all()),
        "release_manager": release.release_manager_id, "planned_date": release.planned_date,
    }
    form = ReleaseForm(request.POST or None, initial=initial)
    if release.state in services.CLOSED_STATES:
        messages.error(request, f"{release.number} is {release.get_state_display().lower()} and can no longer be "
                                "edited.")
        return redirect(release)
    if request.method == "POST" and form.is_valid():
        try:
            services.release_update(release=release, by=request.user, **form.cleaned_data)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"{release.number} saved.")
            return redirect(release)
    return render(request, "releases/release_form.html", {"form": form, "release": release})


# --- actions on the detail page ------------------------------------------------------


@login_required
@require_POST
def release_transition(request, pk: int, name: str):
    """Run one transition; a gate that does not hold names what is missing in a message."""
    _require(request.user, "releases.move_release", "Only Release Managers move releases through their gates.")
    release = get_object_or_404(Release, pk=pk)
    if name not in release.transition_names():
        raise Http404("No such transition.")
    form = TransitionForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    label = TRANSITION_LABELS[name][0]
    run_action(
        request,
        lambda: services.release_transition(
            instance=release, name=name, by=request.user, comment=data.get("comment", ""),
            expected_state=data.get("expected_state") or None,
        ),
        success=f"{release.number}: {label.lower()} done.",
    )
    return redirect(release)


@login_required
@require_POST
def deliverable_add(request, pk: int):
    """Add a deliverable (content or link)."""
    _require(request.user, "releases.add_releasedeliverable", "Only Release Managers add deliverables.")
    release = get_object_or_404(Release, pk=pk)
    form = DeliverableForm(request.POST)
    if form.is_valid():
        try:
            deliverable = services.deliverable_add(release=release, by=request.user, **form.cleaned_data)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"{deliverable.get_kind_display()} added.")
            return redirect(release)
    return _detail_with_errors(request, pk, deliverable_form=form)


@login_required
@require_POST
def deployment_add(request, pk: int):
    """Record a deployment."""
    _require(request.user, "releases.add_deployment", "Only Release Managers record deployments.")
    release = get_object_or_404(Release, pk=pk)
    form = DeploymentForm(request.POST)
    if form.is_valid():
        try:
            deployment = services.deployment_create(release=release, by=request.user, **form.cleaned_data)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            _deployment_message(request, deployment)
            return redirect(release)
    return _detail_with_errors(request, pk, deployment_form=form)


def _deployment_message(request, deployment: Deployment) -> None:
    text = f"Deployment to {deployment.environment}: {deployment.get_status_display().lower()}."
    if deployment.incident_id:
        messages.warning(request, f"{text} Incident {deployment.incident.number} was opened.")
    else:
        messages.success(request, text)


@login_required
@require_POST
def deployment_update(request, pk: int, deployment_pk: int):
    """Finish a running deployment (succeeded or failed)."""
    _require(request.user, "releases.change_deployment", "Only Release Managers update deployments.")
    deployment = get_object_or_404(Deployment.objects.select_related("release"), pk=deployment_pk, release_id=pk)
    form = DeploymentStatusForm(request.POST, prefix=f"dep{deployment.pk}")
    if form.is_valid():
        try:
            deployment = services.deployment_update(deployment=deployment, by=request.user, **form.cleaned_data)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            _deployment_message(request, deployment)
            return redirect(deployment.release)
    return _detail_with_errors(request, pk, status_forms={deployment.pk: form})


@login_required
@require_POST
def check_record(request, pk: int):
    """Record (or re-record) a verification check."""
    _require(request.user, "releases.add_releasecheck", "Only Release Managers record checks.")
    release = get_object_or_404(Release, pk=pk)
    form = CheckForm(request.POST)
    if form.is_valid():
        try:
            check = services.check_record(release=release, by=request.user, **form.cleaned_data)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(
                request, f"{check.get_kind_display()}: {'passed' if check.passed else 'failed'}."
            )
            return redirect(release)
    return _detail_with_errors(request, pk, check_form=form)
