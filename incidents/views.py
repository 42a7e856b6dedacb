"""Incident web pages: the queue, the quick "log an incident" form, the incident page.

Thin views: they read through ``incidents.selectors``, write through
``incidents.services`` and turn domain errors into form errors or messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig

from opsdesk.exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed
from opsdesk.templatetags.opsdesk_format import format_person
from opsdesk.web import add_domain_errors, run_action
from opsdesk.widgets import options

from . import services
from .choices import OPEN_STATES, IncidentState, Severity
from .filtersets import IncidentFilterSet
from .forms import (
    BulkActionForm,
    EscalateForm,
    IncidentCreateForm,
    IncidentEditForm,
    NoteForm,
    SeverityForm,
    style_queue_filters,
    transition_form_class,
)
from .models import Incident
from .process_views import process_context
from .selectors import (
    QUEUE_VIEWS,
    default_queue_view,
    incident_action_items,
    incident_status_updates,
    incident_steps,
    incident_timeline,
    incident_worker_names,
    order_by_urgency,
    queue_view,
    sla_policies_by_severity,
    sla_state,
)
from .selectors import incident_detail as select_incident
from .selectors import incident_list as select_incidents
from .tables import PAGE_SIZES, IncidentTable, page_size, paginate

VIEW = "incidents.view_incident"
ADD = "incidents.add_incident"
CHANGE = "incidents.change_incident"
CHANGE_SEVERITY = "incidents.change_severity_incident"
ACKNOWLEDGE = "incidents.acknowledge_incident"
ESCALATE = "incidents.escalate_incident"
ADD_NOTE = "incidents.add_incidentnote"
DECLARE_MAJOR = "incidents.declare_major_incident"
CLOSED_STATES = (IncidentState.CLOSED, IncidentState.CANCELLED)


# Buttons in the order a desk works an incident; cancel last.
TRANSITION_ORDER = ("acknowledge", "resolve", "hold", "resume", "reopen", "close", "cancel")


def transition_order(name: str) -> int:
    return TRANSITION_ORDER.index(name) if name in TRANSITION_ORDER else len(TRANSITION_ORDER)


def _require(request, perm: str, message: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(message)


def _get_incident(request, pk: int) -> Incident:
    """The incident if the user may see it; 404 otherwise (confidential ones included)."""
    _require(request, VIEW, "Your role does not include viewing incidents.")
    try:
        return select_incident(user=request.user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident.") from exc


# Query parameters that are not filters: they never turn the default view off.
NON_FILTER_PARAMS = {"page", "per_page", "sort", "view"}


def _queue_view(request) -> str:
    """The quick view asked for (``?view=``); with no filter at all, the user's default view;
    explicit filters without a view filter all incidents (``""``)."""
    view = request.GET.get("view", "")
    if view in dict(QUEUE_VIEWS):
        return view
    if set(request.GET) - NON_FILTER_PARAMS:
        return ""
    return default_queue_view(request.user)


@login_required
def incident_list(request):
    """The queue: a quick view (My work by default), filters, the most urgent first, pages of
    25 (or ``?per_page=``), SLA clocks, bulk actions and "Assign to me"."""
    _require(request, VIEW, "Your role does not include viewing incidents.")
    now = timezone.now()
    view = _queue_view(request)
    incidents = select_incidents(user=request.user)
    if view:
        incidents = queue_view(incidents, view, user=request.user, now=now)
    # The filter's people and the bulk form's, read once (their names alone).
    assignees = incident_worker_names()
    filterset = IncidentFilterSet(request.GET or None, queryset=incidents)
    style_queue_filters(filterset.form, assignees=assignees)
    table = IncidentTable(order_by_urgency(filterset.qs), now=now, user=request.user)  # ?sort= re-orders
    per_page = page_size(request.GET.get("per_page"))
    RequestConfig(request, paginate=False).configure(table)  # sorting; pages only of the sizes offered
    paginate(table, request, per_page)
    table.prepare()
    template = "incidents/partials/incident_table.html" if request.htmx else "incidents/incident_list.html"
    can_work = request.user.has_perm(CHANGE)
    return render(
        request,
        template,
        {
            "filter": filterset,
            "table": table,
            "per_page": per_page,
            "page_sizes": PAGE_SIZES,
            "can_add": request.user.has_perm(ADD),
            "queue_views": QUEUE_VIEWS if can_work else [v for v in QUEUE_VIEWS if v[0] not in ("mine", "assigned")],
            "active_view": view,
            "filters_used": bool(set(request.GET) - NON_FILTER_PARAMS),
            "bulk": {
                "assign": can_work,
                "acknowledge": request.user.has_perm(ACKNOWLEDGE),
                "severity": request.user.has_perm(CHANGE_SEVERITY),
            },
            "bulk_assignee_options": options((pk, format_person(person)) for pk, person in assignees)
            if can_work else "",
            "severities": Severity.choices,
        },
    )


def _back_to_queue(request):
    """Back where the user came from on the queue (``next``, same site only), else the queue."""
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect("incidents:list")


@login_required
@require_POST
def incident_assign_to_me(request, pk: int):
    """Assign the incident to the user (``incident_assign``), from the queue or the incident page."""
    incident = _get_incident(request, pk)
    _require(request, CHANGE, "Your role does not include assigning incidents.")
    if run_action(
        request,
        lambda: services.incident_assign(incident=incident, by=request.user, assignee=request.user),
    ):
        messages.success(request, f"{incident.number} is assigned to you.")
    if request.POST.get("next"):
        return _back_to_queue(request)
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_POST
def incident_bulk(request):
    """A bulk action on the incidents ticked in the queue; each refusal is reported for its incident."""
    _require(request, VIEW, "Your role does not include viewing incidents.")
    form = BulkActionForm(request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back_to_queue(request)
    data = form.cleaned_data
    ids = data["incident"]
    incidents = list(select_incidents(user=request.user).filter(pk__in=ids).order_by("id"))
    missing = len(set(ids)) - len(incidents)
    assignee = request.user if data["action"] == "assign_to_me" else data.get("assignee")
    action = "assign" if data["action"] in ("assign", "assign_to_me") else data["action"]
    try:
        done, refused = services.incident_bulk_action(
            incidents=incidents, by=request.user, action=action, assignee=assignee, severity=data.get("severity") or ""
        )
    except DomainValidationError as exc:
        for errors in exc.errors.values():
            messages.error(request, " ".join(errors))
        return _back_to_queue(request)
    verb = {"assign": "Assigned", "acknowledge": "Acknowledged", "severity": "Changed the severity of"}[action]
    if done:
        numbers = ", ".join(incident.number for incident in done)
        messages.success(request, f"{verb} {len(done)} incident{'s' if len(done) != 1 else ''}: {numbers}.")
    for incident, reason in refused:
        messages.error(request, f"{incident.number} not changed: {reason}")
    if missing:
        messages.error(request, f"{missing} selected incident{'s' if missing != 1 else ''} no longer exist "
                                "or are not visible to you.")
    return _back_to_queue(request)


@login_required
def incident_create(request):
    """Log an incident: detected now, reported by the user; then its page."""
    _require(request, ADD, "Your role does not include logging incidents.")
    form = IncidentCreateForm(
        request.POST or None, now=timezone.now(), can_declare_major=request.user.has_perm(DECLARE_MAJOR)
    )
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.incident_create(by=request.user, **form.service_kwargs())
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            severity = incident.get_severity_display().lower()
            messages.success(request, f"{incident.number} logged. The {severity} SLA clock is running.")
            return redirect("incidents:detail", pk=incident.pk)
    return render(
        request,
        "incidents/incident_form.html",
        {"form": form, "mode": "create", "policies": sla_policies_by_severity().values()},
    )


def _detail_response(request, incident: Incident, *, status: int = 200, **bound_forms):
    """The incident page; ``bound_forms`` replace the blank forms (to show their errors)."""
    user = request.user
    now = timezone.now()
    available = sorted(incident.available_transitions_for(user), key=transition_order)
    open_form = next(iter(bound_forms), None)
    transition_forms = []
    for name in available:
        form = bound_forms.get(f"transition_{name}") or transition_form_class(name)(incident=incident)
        transition_forms.append({"name": name, "form": form, "open": open_form == f"transition_{name}"})
    can_change_severity = user.has_perm(CHANGE_SEVERITY)
    can_escalate = user.has_perm(ESCALATE)
    sla = sla_state(incident, now=now)
    is_open = incident.state in OPEN_STATES
    context = {
        "incident": incident,
        "sla": sla,
        "sla_calendar": incident.sla_policy().calendar if incident.sla_policy() else None,
        "sla_clocks": [("Response", sla.response), ("Resolution", sla.resolution)],
        "now": now,
        "is_open": is_open,
        "next_escalation_level": incident.escalation_level + 1,
        "transitions": transition_forms,
        "note_form": (bound_forms.get("note") or NoteForm()) if user.has_perm(ADD_NOTE) else None,
        "severity_form": (bound_forms.get("severity") or SeverityForm(incident=incident))
        if can_change_severity
        else None,
        "escalate_form": (bound_forms.get("escalate") or EscalateForm()) if can_escalate else None,
        "can_edit": user.has_perm(CHANGE) and incident.state not in CLOSED_STATES,
        "open_form": open_form,
        "can_take": _can_take(user, incident),
        "version": incident.updated_at.isoformat(),
        "live_poll_seconds": settings.OPSDESK_LIVE_POLL_SECONDS,
    }
    context.update(process_context(request, incident, bound_forms, now=now))
    return TemplateResponse(request, "incidents/incident_detail.html", context, status=status)


def _can_take(user, incident: Incident) -> bool:
    """Whether "Assign to me" is offered: open, not the user's yet, and the user may be its assignee."""
    if not user.has_perm(CHANGE) or incident.state not in OPEN_STATES or incident.assignee_id == user.pk:
        return False
    return services.assignable_users(incident).filter(pk=user.pk).exists()


@login_required
def incident_live(request, pk: int):
    """The live parts of the incident page (header badges, SLA panel, timeline) as htmx
    out-of-band swaps, polled by the page; with a notice when the incident changed since
    ``?version=`` (the ``updated_at`` the page was rendered with)."""
    incident = _get_incident(request, pk)
    raw_version = request.GET.get("version") or incident.updated_at.isoformat()  # none: no notice
    try:
        version = datetime.fromisoformat(raw_version)
    except ValueError:
        return HttpResponseBadRequest("version must be the ISO 8601 timestamp the page was rendered with.")
    if timezone.is_naive(version):
        version = timezone.make_aware(version, UTC)
    now = timezone.now()
    checklist = incident_steps(incident)
    timeline = incident_timeline(
        incident, steps=checklist, status_updates=incident_status_updates(incident),
        action_items=incident_action_items(incident),
    )
    changed = incident.updated_at > version
    sla = sla_state(incident, now=now)
    policy = incident.sla_policy()
    context = {
        "incident": incident,
        "sla": sla,
        "sla_calendar": policy.calendar if policy else None,
        "sla_clocks": [("Response", sla.response), ("Resolution", sla.resolution)],
        "timeline": timeline,
        "oob": True,
        "version": raw_version,
        "changed_since": changed,
        "changes_since": [e for e in timeline if e.at > version and e.kind != "notification"][-3:] if changed else [],
    }
    return render(request, "incidents/partials/live.html", context)


@login_required
def incident_detail(request, pk: int):
    """The incident page: header, SLA panel, timeline, the user's actions."""
    return _detail_response(request, _get_incident(request, pk))


@login_required
@require_POST
def incident_transition(request, pk: int, name: str):
    """Run one transition from the incident page; refusals come back as messages or form errors."""
    incident = _get_incident(request, pk)
    if name not in incident.transition_names():
        raise Http404(f"{name!r} is not an incident transition.")
    form = transition_form_class(name)(request.POST, incident=incident)
    if not form.is_valid():
        if "expected_state" in form.errors:
            messages.error(request, "The form was incomplete. Reload the page and try again.")
            return redirect("incidents:detail", pk=incident.pk)
        return _detail_response(request, incident, status=400, **{f"transition_{name}": form})
    try:
        updated = services.incident_transition(
            instance=incident,
            name=name,
            by=request.user,
            comment=form.cleaned_data.get("comment", "").strip(),
            expected_state=form.cleaned_data["expected_state"],
            **form.transition_fields(),
        )
    except DomainValidationError as exc:
        add_domain_errors(form, exc)
        return _detail_response(request, incident, status=400, **{f"transition_{name}": form})
    except (TransitionNotAllowed, ConcurrentUpdate) as exc:
        messages.error(request, exc.message)
        return redirect("incidents:detail", pk=incident.pk)
    messages.success(request, f"{updated.number} is now {updated.get_state_display().lower()}.")
    return redirect("incidents:detail", pk=incident.pk)


@login_required
@require_POST
def incident_note(request, pk: int):
    """Add a work note to the timeline."""
    incident = _get_incident(request, pk)
    _require(request, ADD_NOTE, "Your role does not include adding work notes.")
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.incident_add_note(incident=incident, by=request.user, body=form.cleaned_data["body"].strip())
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "Work note added.")
            return redirect(reverse("incidents:detail", kwargs={"pk": incident.pk}) + "#timeline")
    return _detail_response(request, incident, status=400, note=form)


@login_required
def incident_edit(request, pk: int):
    """Edit the non-state fields: title, description, team, assignee, customers, confidential."""
    incident = _get_incident(request, pk)
    _require(request, CHANGE, "Your role does not include editing incidents.")
    form = IncidentEditForm(request.POST or None, incident=incident)
    if request.method == "POST" and form.is_valid():
        changes = form.changed_fields()
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("incidents:detail", pk=incident.pk)
        try:
            services.incident_update(incident=incident, by=request.user, **changes)
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        except (TransitionNotAllowed, ConcurrentUpdate) as exc:
            messages.error(request, exc.message)
            return redirect("incidents:detail", pk=incident.pk)
        else:
            messages.success(request, f"{incident.number} updated.")
            return redirect("incidents:detail", pk=incident.pk)
    return render(request, "incidents/incident_form.html", {"form": form, "mode": "edit", "incident": incident})


@login_required
@require_POST
def incident_severity(request, pk: int):
    """Change the severity; both deadlines are recomputed from detection."""
    incident = _get_incident(request, pk)
    _require(request, CHANGE_SEVERITY, "Your role does not include changing the severity of incidents.")
    form = SeverityForm(request.POST, incident=incident)
    if form.is_valid():
        severity = form.cleaned_data["severity"]
        if severity == incident.severity:
            messages.info(request, f"{incident.number} is already {incident.get_severity_display().lower()}.")
            return redirect("incidents:detail", pk=incident.pk)
        try:
            updated = services.incident_change_severity(
                incident=incident, by=request.user, severity=severity, comment=form.cleaned_data["comment"].strip()
            )
        except DomainValidationError as exc:
            add_domain_errors(form, exc)
        except (TransitionNotAllowed, ConcurrentUpdate) as exc:
            messages.error(request, exc.message)
            return redirect("incidents:detail", pk=incident.pk)
        else:
            messages.success(
                request,
                f"Severity of {updated.number} is now {updated.get_severity_display().lower()}; "
                "SLA deadlines recomputed from detection.",
            )
            return redirect("incidents:detail", pk=incident.pk)
    return _detail_response(request, incident, status=400, severity=form)


@login_required
@require_POST
def incident_escalate(request, pk: int):
    """Escalate by hand to the next tier."""
    incident = _get_incident(request, pk)
    _require(request, ESCALATE, "Your role does not include escalating incidents.")
    form = EscalateForm(request.POST)
    if not form.is_valid():
        return _detail_response(request, incident, status=400, escalate=form)
    comment = form.cleaned_data["comment"].strip()
    escalated: list[Incident] = []
    if run_action(
        request,
        lambda: escalated.append(services.incident_escalate(incident=incident, by=request.user, comment=comment)),
    ):
        messages.success(request, f"{incident.number} escalated to level {escalated[0].escalation_level}.")
    return redirect("incidents:detail", pk=incident.pk)
