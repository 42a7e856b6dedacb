"""The incident page's process sections (§2.1): the checklist, the post-incident review with its
action items, status updates and major incidents.

Thin views like ``incidents.views``: read through selectors, write through
``steps``, ``review``, ``major`` and ``services``; refusals become messages or
form errors on the incident page.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.templatetags.opsdesk_format import format_when
from opsdesk.web import add_domain_errors, run_action

from . import major, process, review, services, steps
from .choices import OPEN_STATES, ActionItemState, IncidentState, StepState
from .forms import ActionItemCloseForm, ActionItemForm, ReviewForm, StatusUpdateForm, StepCompleteForm, StepSkipForm
from .models import ActionItem, Incident, IncidentStep
from .selectors import (
    incident_action_items,
    incident_status_updates,
    incident_steps,
    incident_timeline,
    steps_by_phase,
)

REVIEW_STATES = (IncidentState.RESOLVED, IncidentState.CLOSED)


def _has(user, perm: str) -> bool:
    return user.has_perm(perm)


def follow_up_status(incident: Incident, now) -> dict | None:
    """The follow-up target as the page shows it: due, and met / overdue / breached / open."""
    if incident.follow_up_due is None:
        return None
    due = incident.follow_up_due
    if incident.state == IncidentState.CLOSED:
        status = "breached" if incident.follow_up_breached else "met"
    elif incident.follow_up_breached or due <= now:
        status = "overdue"
    else:
        status = "open"
    return {"due": due, "status": status, "remaining_seconds": (due - now).total_seconds()}


def _local(moment) -> str:
    return format_when(moment)


def phase_targets(incident: Incident, now) -> dict[str, dict]:
    """Each phase's target (§2.1) in one line, with its colour (one query for the detection target)."""
    from .templatetags.incident_tags import duration

    policy = incident.sla_policy()  # cached on the incident: the SLA panel read it already
    detection_time = policy.detection_time if policy is not None else None
    targets = {}
    taken = incident.detected_at - incident.started_at
    target = f" (target {duration(detection_time)})" if detection_time is not None else ""
    targets["detection"] = {
        "text": f"Detected {duration(taken)} after impact began{target}"
        + (" — missed" if incident.detection_breached else ""),
        "css": "sla-breached" if incident.detection_breached else "sla-ok",
    }
    for phase, clock, done_at in (("response", "response", incident.acknowledged_at),
                                  ("resolution", "resolution", incident.resolved_at)):
        due = getattr(incident, f"{clock}_due")
        if getattr(incident, f"{clock}_breached"):
            targets[phase] = {"text": f"{clock.capitalize()} SLA breached", "css": "sla-breached"}
        elif done_at is not None:
            targets[phase] = {"text": f"{clock.capitalize()} SLA met", "css": "sla-ok"}
        elif due is not None and incident.state in OPEN_STATES:
            targets[phase] = {"text": f"{clock.capitalize()} due {_local(due)}", "css": ""}
    follow_up = follow_up_status(incident, now)
    if follow_up is not None:
        text = {
            "met": "Reviewed within the follow-up target",
            "breached": "Closed after the follow-up target",
            "overdue": f"Review overdue since {_local(follow_up['due'])}",
            "open": f"Review due {_local(follow_up['due'])}",
        }[follow_up["status"]]
        css = {"met": "sla-ok", "breached": "sla-breached", "overdue": "sla-breached", "open": ""}
        targets["follow_up"] = {"text": text, "css": css[follow_up["status"]]}
    return targets


def _next_update_due(incident: Incident, updates: list):
    """When a major incident's next status update is due: one interval after the last one (or the declaration).

    ``status_update_due`` is the sweep's reminder schedule, which moves on after each reminder; the
    page says how long the stakeholders have been waiting."""
    if not incident.major or incident.state not in OPEN_STATES:
        return None
    last = updates[-1].created_at if updates else incident.major_declared_at
    return last + process.status_update_interval() if last else None


def review_times(incident: Incident, timeline: list) -> dict:
    """The figures the review starts from: time to detect, acknowledge, resolve; what the timeline holds."""

    def seconds(later, earlier):
        return (later - earlier).total_seconds() if later and earlier else None

    return {
        "detect": seconds(incident.detected_at, incident.started_at),
        "acknowledge": seconds(incident.acknowledged_at, incident.detected_at),
        "resolve": seconds(incident.resolved_at, incident.detected_at),
        "transitions": sum(1 for entry in timeline if entry.kind == "transition"),
        "notes": sum(1 for entry in timeline if entry.kind == "note"),
    }


def process_context(request, incident: Incident, bound_forms: dict, *, now) -> dict:
    """What the incident page needs for the process sections (a constant number of queries)."""
    user = request.user
    checklist = incident_steps(incident)
    items = incident_action_items(incident)
    updates = incident_status_updates(incident)
    writable = incident.state not in (IncidentState.CLOSED, IncidentState.CANCELLED)
    today = timezone.localdate(now)
    can_raise_change = _has(user, "changes.add_changerequest")
    rows = [
        {
            "item": item,
            "overdue": item.is_overdue(today),
            "can_complete": item.state == ActionItemState.OPEN and review.may_complete(user, item),
            "can_cancel": item.state == ActionItemState.OPEN and _has(user, review.CHANGE_PERM),
            "can_raise_change": can_raise_change and item.state == ActionItemState.OPEN and item.change_id is None
            and incident.state != IncidentState.CANCELLED,
        }
        for item in items
    ]
    skip_key = next((name.removeprefix("skip_") for name in bound_forms if name.startswith("skip_")), None)
    pending_required = [s for s in checklist if s.required and s.state == StepState.PENDING]
    can_review = _has(user, "incidents.change_incident") and incident.state in (*OPEN_STATES, IncidentState.RESOLVED)
    timeline = incident_timeline(incident, steps=checklist, status_updates=updates, action_items=items)
    return {
        "timeline": timeline,
        "review_times": review_times(incident, timeline),
        "status_update_minutes": settings.OPSDESK_STATUS_UPDATE_MINUTES,
        "checklist": steps_by_phase(checklist),
        "phase_targets": phase_targets(incident, now),
        "checklist_settled": sum(1 for s in checklist if s.state != StepState.PENDING),
        "checklist_total": len(checklist),
        "pending_required": pending_required,
        "can_complete_steps": writable and _has(user, steps.COMPLETE_PERM),
        "can_skip_steps": writable and _has(user, steps.SKIP_PERM),
        "skip_form": bound_forms.get(f"skip_{skip_key}") if skip_key else None,
        "skip_key": skip_key,
        "show_review": incident.state in REVIEW_STATES or bool(items),
        "follow_up": follow_up_status(incident, now),
        "review_form": (bound_forms.get("review") or ReviewForm(incident=incident)) if can_review else None,
        "action_items": rows,
        "action_item_form": (
            bound_forms.get("action_item") or ActionItemForm(owners=review.action_item_owner_choices(incident))
        ) if _has(user, review.ADD_PERM) and incident.state != IncidentState.CANCELLED else None,
        "status_updates": updates,
        "next_update_due": _next_update_due(incident, updates),
        "status_update_form": (bound_forms.get("status_update") or StatusUpdateForm(incident=incident))
        if writable and _has(user, major.ADD_UPDATE_PERM) else None,
        "can_declare_major": (
            not incident.major and writable and _has(user, "incidents.declare_major_incident")
        ),
    }


def _incident(request, pk: int) -> Incident:
    from .views import _get_incident

    return _get_incident(request, pk)


def _back(incident: Incident, anchor: str):
    return redirect(reverse("incidents:detail", kwargs={"pk": incident.pk}) + f"#{anchor}")


def _detail(request, incident: Incident, **bound_forms):
    from .views import _detail_response

    return _detail_response(request, incident, status=400, **bound_forms)


def _step(incident: Incident, key: str) -> IncidentStep:
    step = IncidentStep.objects.filter(incident=incident, key=key).first()
    if step is None:
        raise Http404("No such step.")
    return step


@login_required
@require_POST
def step_complete(request, pk: int, key: str):
    """Tick one step of the checklist."""
    incident = _incident(request, pk)
    step = _step(incident, key)
    form = StepCompleteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    run_action(
        request, lambda: steps.step_complete(incident=incident, key=key, by=request.user, note=note),
        success=f"“{step.title}” done.",
    )
    return _back(incident, f"step-{key}")


@login_required
@require_POST
def step_skip(request, pk: int, key: str):
    """Skip an optional step with a reason."""
    incident = _incident(request, pk)
    step = _step(incident, key)
    form = StepSkipForm(request.POST)
    if not form.is_valid():
        return _detail(request, incident, **{f"skip_{key}": form})
    run_action(
        request,
        lambda: steps.step_skip(incident=incident, key=key, by=request.user, reason=form.cleaned_data["reason"]),
        success=f"“{step.title}” skipped.",
    )
    return _back(incident, f"step-{key}")


@login_required
@require_POST
def review_save(request, pk: int):
    """Save the review fields (root cause, lessons learned, preventive measures)."""
    incident = _incident(request, pk)
    form = ReviewForm(request.POST, incident=incident)
    if not form.is_valid():
        return _detail(request, incident, review=form)
    changes = form.changed_fields()
    if not changes:
        messages.info(request, "Nothing changed.")
        return _back(incident, "review")
    try:
        services.incident_update(incident=incident, by=request.user, **changes)
    except DomainValidationError as exc:
        add_domain_errors(form, exc)
        return _detail(request, incident, review=form)
    except (TransitionNotAllowed, ConcurrentUpdate) as exc:
        messages.error(request, exc.message)
        return _back(incident, "review")
    messages.success(request, "Review saved.")
    return _back(incident, "review")


@login_required
@require_POST
def action_item_add(request, pk: int):
    """Add an action item to the review."""
    incident = _incident(request, pk)
    form = ActionItemForm(request.POST, owners=review.action_item_owner_choices(incident))
    if form.is_valid():
        data = form.cleaned_data
        try:
            item = review.action_item_create(
                incident=incident, by=request.user, title=data["title"], owner=data["owner"], due_date=data["due_date"]
            )
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, f"Action item “{item.title}” added.")
            return _back(incident, "action-items")
    return _detail(request, incident, action_item=form)


def _item(incident: Incident, item_id: int) -> ActionItem:
    item = ActionItem.objects.filter(incident=incident, pk=item_id).first()
    if item is None:
        raise Http404("No such action item.")
    return item


@login_required
@require_POST
def action_item_complete(request, pk: int, item_id: int):
    incident = _incident(request, pk)
    item = _item(incident, item_id)
    form = ActionItemCloseForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    run_action(
        request, lambda: review.action_item_complete(item=item, by=request.user, note=note),
        success=f"“{item.title}” done.",
    )
    return _back(incident, "action-items")


@login_required
@require_POST
def action_item_cancel(request, pk: int, item_id: int):
    incident = _incident(request, pk)
    item = _item(incident, item_id)
    form = ActionItemCloseForm(request.POST)
    reason = form.cleaned_data["note"] if form.is_valid() else ""
    run_action(
        request, lambda: review.action_item_cancel(item=item, by=request.user, reason=reason),
        success=f"“{item.title}” cancelled.",
    )
    return _back(incident, "action-items")


@login_required
@require_POST
def status_update_add(request, pk: int):
    """Post a status update (internal or to the stakeholders)."""
    incident = _incident(request, pk)
    form = StatusUpdateForm(request.POST, incident=incident)
    if form.is_valid():
        data = form.cleaned_data
        try:
            major.status_update_add(incident=incident, by=request.user, body=data["body"], audience=data["audience"])
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        except (TransitionNotAllowed, ConcurrentUpdate) as exc:
            messages.error(request, exc.message)
            return _back(incident, "status-updates")
        else:
            messages.success(request, "Status update posted.")
            return _back(incident, "status-updates")
    return _detail(request, incident, status_update=form)


@login_required
@require_POST
def declare_major(request, pk: int):
    """Declare the incident a major incident."""
    incident = _incident(request, pk)
    comment = (request.POST.get("comment") or "").strip()[:2000]
    run_action(
        request, lambda: major.incident_declare_major(incident=incident, by=request.user, comment=comment),
        success=f"{incident.number} is now a major incident: post a status update every "
        f"{major.process.status_update_interval().total_seconds() / 60:.0f} minutes.",
    )
    return _back(incident, "status-updates")
