"""The incident's checklist (§2.1): steps from the template, ticked by the system or by people.

Every new incident gets a copy of the active ``ProcessTemplate`` rows (one insert), so
a template change applies to incidents logged afterwards and never rewrites old ones.

The system marks a step done itself (``auto``) when it sees it happen, in the
transaction of the write that shows it:

| step | observed when |
| --- | --- |
| ``identify_incident``, ``priority_assignment`` | the incident is logged (with its severity) |
| ``team_notification`` | a notification to the incident's team is written (or its routine digest) |
| ``team_assembly`` | ``acknowledged_at`` is set (acknowledge, or resolving straight from detected) |
| ``stakeholder_communication`` | the first status update to the stakeholders |
| ``root_cause_analysis`` | ``root_cause`` is set |
| ``solution_implementation`` | ``resolution_summary`` is set (resolving needs it) |
| ``service_restoration`` | ``resolve`` (a ``reopen`` puts it back to pending) |
| ``incident_documentation`` | both ``resolution_summary`` and ``root_cause`` are set |
| ``lessons_learned`` | ``lessons_learned`` is set |
| ``preventive_measures`` | ``preventive_measures`` is set, or an action item exists |

Only pending steps are ticked: what a person did or skipped stays as they said.
People complete or skip the other steps (``step_complete``, ``step_skip``); a
required step cannot be skipped, and ``close`` is refused while one is pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.selectors import many_ids

from .choices import IncidentState, StepKey, StepState
from .guards import require_perm as _require
from .guards import require_visible
from .models import Incident, IncidentStep, ProcessTemplate

COMPLETE_PERM = "incidents.change_incidentstep"
SKIP_PERM = "incidents.skip_incidentstep"

# Steps observed in the incident's own review fields (set on the page, over the API, or by close).
FIELD_STEPS: dict[str, tuple[str, ...]] = {
    StepKey.ROOT_CAUSE_ANALYSIS: ("root_cause",),
    StepKey.SOLUTION_IMPLEMENTATION: ("resolution_summary",),
    StepKey.INCIDENT_DOCUMENTATION: ("resolution_summary", "root_cause"),
    StepKey.LESSONS_LEARNED: ("lessons_learned",),
    StepKey.PREVENTIVE_MEASURES: ("preventive_measures",),
}
# What the close form asks for: a pending step these fields bring about does not block offering "close".
CLOSE_FIELDS = ("root_cause", "lessons_learned", "preventive_measures")
CLOSED_STATES = (IncidentState.CLOSED, IncidentState.CANCELLED)


# --- the checklist of a new incident ----------------------------------------------------


def create_steps(incident: Incident, *, by, at: datetime) -> list[IncidentStep]:
    """Copy the active template to ``incident`` (one query to read, one insert), with the
    steps seen at creation already done: the incident is identified and has its priority."""
    at_creation = {StepKey.IDENTIFY_INCIDENT, StepKey.PRIORITY_ASSIGNMENT}
    done_by = by if by is not None and by.is_authenticated else None
    steps = []
    for row in ProcessTemplate.objects.filter(active=True).order_by("position", "id"):
        seen = row.key in at_creation
        steps.append(
            IncidentStep(
                incident=incident, phase=row.phase, key=row.key, title=row.title, required=row.required,
                position=row.position, state=StepState.DONE if seen else StepState.PENDING,
                done_at=at if seen else None, done_by=done_by if seen else None, auto=seen,
            )
        )
    return IncidentStep.objects.bulk_create(steps)


# --- what the system sees ------------------------------------------------------------------


def observe(incident_ids: int | Iterable[int], keys: Iterable[str], *, by=None, at: datetime | None = None,
            note: str = "") -> int:
    """Mark the pending steps ``keys`` of the incident(s) done by the system (one UPDATE).

    ``by`` is the person whose action the system saw (None: the system alone).
    Returns how many steps were ticked.
    """
    keys = list(keys)
    if not keys:
        return 0
    ids = [incident_ids] if isinstance(incident_ids, int) else list(incident_ids)
    if not ids:
        return 0
    # The ids as one array parameter: the SLA sweep ticks thousands at once.
    return IncidentStep.objects.filter(many_ids("incident_id", ids), key__in=keys, state=StepState.PENDING).update(
        state=StepState.DONE, done_at=at or timezone.now(), done_by=by if _person(by) else None, auto=True,
        note=note,
    )


def field_steps_met(values: dict[str, str]) -> list[str]:
    """The steps that ``values`` (field name → text) show done."""
    return [
        key for key, fields in FIELD_STEPS.items() if all((values.get(name) or "").strip() for name in fields)
    ]


def observe_fields(incident: Incident, *, by=None, at: datetime | None = None) -> int:
    """Tick the steps the incident's review fields show (root cause, lessons learned, …)."""
    values = {name: getattr(incident, name) for name in {f for fields in FIELD_STEPS.values() for f in fields}}
    return observe(incident.pk, field_steps_met(values), by=by, at=at)


def observe_transition(incident: Incident, name: str, *, by, at: datetime) -> None:
    """Tick (or, for ``reopen``, un-tick) the steps a transition shows."""
    if name == "acknowledge":
        observe(incident.pk, [StepKey.TEAM_ASSEMBLY], by=by, at=at)
    elif name == "resolve":
        seen = [StepKey.TEAM_ASSEMBLY, StepKey.SERVICE_RESTORATION, *field_steps_met(_review_values(incident))]
        observe(incident.pk, seen, by=by, at=at)
    elif name == "reopen":
        # The fix did not hold: the service is not restored after all.
        IncidentStep.objects.filter(
            incident_id=incident.pk, key=StepKey.SERVICE_RESTORATION, state=StepState.DONE, auto=True
        ).update(state=StepState.PENDING, done_at=None, done_by=None, auto=False, note="")
    elif name == "close":
        observe_fields(incident, by=by, at=at)


# --- the close gate ----------------------------------------------------------------------


def pending_required(incident: Incident) -> list[str]:
    """The keys of the incident's required steps still pending, in checklist order.

    Uses what the list and detail selectors read ahead when present: the keys
    (``pending_required_keys``, a list page's) or the steps (``pending_required_steps``, one
    incident's); else one query.
    """
    keys = incident.__dict__.get("pending_required_keys")
    if keys is not None:
        return list(keys)
    prefetched = incident.__dict__.get("pending_required_steps")
    if prefetched is not None:
        return [step.key for step in prefetched]
    return list(
        IncidentStep.objects.filter(incident_id=incident.pk, required=True, state=StepState.PENDING)
        .order_by("position", "id")
        .values_list("key", flat=True)
    )


def close_blockers(incident: Incident) -> list[str]:
    """Pending required steps that the close form cannot bring about (what keeps "close" from being offered)."""
    satisfiable = set(field_steps_met(_review_values(incident) | {name: "given" for name in CLOSE_FIELDS}))
    return [key for key in pending_required(incident) if key not in satisfiable]


def _review_values(incident: Incident) -> dict[str, str]:
    return {name: getattr(incident, name) for name in ("resolution_summary", "root_cause", "lessons_learned",
                                                          "preventive_measures")}


def missing_for_close(incident: Incident, fields: dict) -> list[str]:
    """The required steps still pending after a close with ``fields`` (root cause, …) would be recorded."""
    values = _review_values(incident)
    values.update({name: value for name, value in fields.items() if name in values and value is not None})
    met = set(field_steps_met(values))
    return [key for key in pending_required(incident) if key not in met]


def refuse_close(incident: Incident, missing: list[str]) -> TransitionNotAllowed:
    titles = dict(
        IncidentStep.objects.filter(incident_id=incident.pk, key__in=missing).values_list("key", "title")
    )
    named = ", ".join(titles.get(key, key) for key in missing)
    return TransitionNotAllowed(
        f"Cannot close {incident.number} yet: required step{'s' if len(missing) != 1 else ''} pending: {named}.",
        missing=missing,
    )


# --- what people do ------------------------------------------------------------------------


def _person(by) -> bool:
    return by is not None and getattr(by, "is_authenticated", False)


def _locked_step(incident: Incident, key: str, by) -> IncidentStep:
    require_visible(by, incident)
    step = (
        IncidentStep.objects.select_for_update(of=("self",)).select_related("incident")
        .filter(incident_id=incident.pk, key=key).first()
    )
    if step is None:
        raise IncidentStep.DoesNotExist(f"{incident.number} has no step {key!r}.")
    state = step.incident.state
    if state in CLOSED_STATES:
        raise TransitionNotAllowed(
            f"{incident.number} is {IncidentState(state).label.lower()}: its checklist is final."
        )
    return step


@transaction.atomic
def step_complete(*, incident: Incident, key: str, by, note: str = "", at: datetime | None = None) -> IncidentStep:
    """Mark step ``key`` done by ``by`` (needs ``incidents.change_incidentstep``).

    A skipped step may still be completed (it turned out to be done); a done step
    is a 409, as is any step of a closed or cancelled incident. An unknown key
    raises ``IncidentStep.DoesNotExist`` (404).
    """
    _require(by, COMPLETE_PERM, "You may not complete incident steps.")
    step = _locked_step(incident, key, by)
    if step.state == StepState.DONE:
        raise TransitionNotAllowed(f"“{step.title}” is already done.")
    step.state = StepState.DONE
    step.done_at = at or timezone.now()
    step.done_by = by if _person(by) else None
    step.auto = False
    step.note = (note or "").strip()
    step.save(update_fields=["state", "done_at", "done_by", "auto", "note"])
    return step


@transaction.atomic
def step_skip(*, incident: Incident, key: str, by, reason: str, at: datetime | None = None) -> IncidentStep:
    """Skip step ``key`` with a ``reason`` (needs ``incidents.skip_incidentstep``).

    A required step cannot be skipped (409), nor one already done or skipped; the
    reason is required (400).
    """
    _require(by, SKIP_PERM, "You may not skip incident steps.")
    step = _locked_step(incident, key, by)
    if step.required:
        raise TransitionNotAllowed(f"“{step.title}” is required: it cannot be skipped.")
    if step.state != StepState.PENDING:
        raise TransitionNotAllowed(f"“{step.title}” is already {step.get_state_display().lower()}.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainValidationError({"reason": "Say why the step is skipped."})
    step.state = StepState.SKIPPED
    step.done_at = at or timezone.now()
    step.done_by = by if _person(by) else None
    step.auto = False
    step.note = reason
    step.save(update_fields=["state", "done_at", "done_by", "auto", "note"])
    return step
