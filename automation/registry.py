"""The rule registry and the dispatcher that runs enabled rules on published events.

A rule is a class in ``automation/rules/`` with a ``key`` (its AutomationRule
row), the event type it reacts to, a parameter schema (a DRF serializer) and
``run(event, params)``, which returns ``Acted``, ``Skipped`` or ``None`` (the
event does not concern the rule: nothing is recorded).

``dispatch(event)`` is subscribed to every event type a rule listens to. It
reads the enabled rules for the event (one query, so disabling a rule stops it
at once and new params apply to the next event) and runs each in its own
savepoint:

- acted or skipped: the outcome is recorded in the same savepoint, so an acted
  run and its effects commit together with the trigger, or not at all;
- the same occurrence again (same ``event.key``): skipped as already handled,
  race-safe through the unique ``automation_acts_once`` index;
- the rule raises: its savepoint is rolled back (nothing half done), the
  failure is recorded with its reason, and the trigger's write goes on.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from rest_framework import serializers

from opsdesk import events
from opsdesk.exceptions import DomainValidationError, OpsDeskError

from .choices import RunObjectAction, RunOutcome
from .models import AutomationRule, AutomationRun, AutomationRunObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acted:
    """The rule did something: ``detail`` says what, in one sentence; the records it made or changed."""

    detail: str
    created: list[models.Model] = field(default_factory=list)
    changed: list[models.Model] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    """The event concerned the rule, but it did nothing, for ``reason``."""

    reason: str


class RuleFailure(OpsDeskError):
    """The rule should act but cannot; recorded as a failed run with this message."""


class NoParams(serializers.Serializer):
    """A rule without parameters."""


class Rule(ABC):
    """Base of every rule: subclasses set the class attributes and implement ``subject`` and ``run``."""

    key: ClassVar[str]
    title: ClassVar[str]
    trigger: ClassVar[type[events.Event]]
    summary: ClassVar[str]  # trigger → action, one sentence
    Params: ClassVar[type[serializers.Serializer]] = NoParams

    @property
    def event_name(self) -> str:
        """The name of the event that triggers the rule (templates cannot read ``trigger``: it is callable)."""
        return self.trigger.name

    @abstractmethod
    def subject(self, event: events.Event) -> models.Model:
        """The record the event is about (the run's subject)."""

    def subject_number(self, subject: models.Model) -> str:
        """How the run names its subject: its number (a deployment says which release)."""
        return _number(subject)

    @abstractmethod
    def run(self, event: events.Event, params: dict[str, Any]) -> Acted | Skipped | None:
        """React to ``event`` with validated ``params``; runs inside a savepoint of the trigger's transaction."""

    # --- parameters -------------------------------------------------------------

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {name: f.default for name, f in cls.Params().fields.items()}

    @classmethod
    def clean_params(cls, params: Any) -> dict[str, Any]:
        """The params checked against the schema, with defaults filled in; raises DomainValidationError."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise DomainValidationError({"params": "Give the parameters as a JSON object."})
        schema = cls.Params(data=params)
        unknown = sorted(set(params) - set(schema.fields))
        if unknown:
            known = ", ".join(schema.fields) or "none"
            raise DomainValidationError(
                {"params": [f"Unknown parameter {name!r} (this rule takes: {known})." for name in unknown]}
            )
        if not schema.is_valid():
            raise DomainValidationError(
                {"params": [f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in schema.errors.items()]}
            )
        return dict(schema.validated_data)

    @classmethod
    def params_schema(cls) -> dict[str, dict[str, Any]]:
        """A description of each parameter (type, default, limits, choices) for the admin, API and docs."""
        described = {}
        for name, f in cls.Params().fields.items():
            item: dict[str, Any] = {"type": type(f).__name__.removesuffix("Field").lower(), "default": f.default}
            for attr in ("min_value", "max_value"):
                if getattr(f, attr, None) is not None:
                    item[attr.removesuffix("_value")] = getattr(f, attr)
            if isinstance(f, serializers.ChoiceField):
                item["choices"] = list(f.choices)
            if f.help_text:
                item["help"] = str(f.help_text)
            described[name] = item
        return described


RULES: dict[str, Rule] = {}


def register(rule_class: type[Rule]) -> type[Rule]:
    """Class decorator: install a rule in the registry."""
    RULES[rule_class.key] = rule_class()
    return rule_class


def rules_for(event_type: type[events.Event]) -> list[Rule]:
    return [rule for rule in RULES.values() if rule.trigger is event_type]


def connect() -> None:
    """Subscribe the dispatcher to every event type some rule reacts to (idempotent)."""
    for event_type in {rule.trigger for rule in RULES.values()}:
        events.subscribe(event_type, dispatch)


# --- running rules -----------------------------------------------------------------


def _content_type(obj: models.Model) -> ContentType:
    return ContentType.objects.get_for_model(obj, for_concrete_model=True)


def _number(obj: models.Model) -> str:
    return (getattr(obj, "number", None) or "")[:40]


def _record(
    *, rule: Rule, row: AutomationRule, event: events.Event, subject: models.Model, outcome: str, detail: str,
    created=(), changed=(),
) -> AutomationRun:
    run = AutomationRun.objects.create(
        rule=row,
        event=event.name,
        event_key=event.key[:200],
        subject_type=_content_type(subject),
        subject_id=subject.pk,
        subject_number=rule.subject_number(subject)[:40],
        outcome=outcome,
        detail=detail,
        created_at=event.at,
    )
    AutomationRunObject.objects.bulk_create(
        [
            AutomationRunObject(
                run=run, content_type=_content_type(obj), object_id=obj.pk, number=_number(obj), action=action
            )
            for action, objs in ((RunObjectAction.CREATED, created), (RunObjectAction.CHANGED, changed))
            for obj in objs
        ]
    )
    return run


def _already_handled(row: AutomationRule, event: events.Event) -> AutomationRun | None:
    return AutomationRun.objects.filter(rule=row, event_key=event.key[:200], outcome=RunOutcome.ACTED).first()


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, DomainValidationError):
        return "; ".join(
            " ".join(v) if k == "non_field_errors" else f"{k}: {' '.join(v)}" for k, v in exc.errors.items()
        )
    if isinstance(exc, OpsDeskError) and exc.message:
        return exc.message
    return f"{type(exc).__name__}: {exc}"[:2000]


def run_rule(rule: Rule, row: AutomationRule, event: events.Event) -> AutomationRun | None:
    """Run one enabled rule on one event (see the module docstring); returns the recorded run."""
    subject = rule.subject(event)

    def record(outcome: str, detail: str, created=(), changed=()) -> AutomationRun:
        return _record(
            rule=rule, row=row, event=event, subject=subject, outcome=outcome, detail=detail,
            created=created, changed=changed,
        )

    try:
        with transaction.atomic():
            previous = _already_handled(row, event)
            if previous is not None:
                return record(RunOutcome.SKIPPED, f"Already handled by run #{previous.pk}.")
            result = rule.run(event, rule.clean_params(row.params))
            if result is None:
                return None
            if isinstance(result, Skipped):
                return record(RunOutcome.SKIPPED, result.reason)
            return record(RunOutcome.ACTED, result.detail, result.created, result.changed)
    except IntegrityError as exc:
        previous = _already_handled(row, event)
        if previous is not None:  # handled at the same moment by another transaction
            return record(RunOutcome.SKIPPED, f"Already handled by run #{previous.pk}.")
        failure: Exception = exc
    except Exception as exc:  # noqa: BLE001 - a failing rule is recorded; the trigger's write goes on
        failure = exc
    # A refusal the rule expects (no requester, bad data) needs no traceback; anything else does.
    expected = isinstance(failure, OpsDeskError)
    log.warning(
        "Automation rule %s failed on %s: %s", row.key, event.key, failure, exc_info=None if expected else failure
    )
    return record(RunOutcome.FAILED, _failure_text(failure))


def dispatch(event: events.Event) -> None:
    """Run every enabled rule that reacts to ``event``'s type (subscribed to the event bus)."""
    rules = rules_for(type(event))
    if not rules:
        return
    rows = {row.key: row for row in AutomationRule.objects.filter(key__in=[r.key for r in rules], enabled=True)}
    for rule in rules:
        row = rows.get(rule.key)
        if row is not None:
            run_rule(rule, row, event)
