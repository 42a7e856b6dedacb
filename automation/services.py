"""Writes of the automation app: the rule rows (seeded, then switched and tuned by people)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from opsdesk.exceptions import DomainValidationError

from .models import AutomationRule
from .registry import RULES

CHANGE_RULE = "automation.change_automationrule"


def ensure_rules(sender=None, **kwargs) -> int:
    """Create the row of every installed rule that has none, enabled with its default params.

    Run by the seeding migration's logic after every ``migrate`` (post_migrate),
    so a flush (tests, ``seed_demo --reset``) brings the rules back. Existing rows
    — and what people set in them — are never touched. Returns how many were made.
    """
    existing = set(AutomationRule.objects.values_list("key", flat=True))
    missing = [AutomationRule(key=key, enabled=True, params=rule.defaults()) for key, rule in RULES.items()
               if key not in existing]
    AutomationRule.objects.bulk_create(missing)
    return len(missing)


@transaction.atomic
def rule_update(*, rule: AutomationRule, by, enabled: bool | None = None, params: Any = None) -> AutomationRule:
    """Switch a rule on or off and/or set its params (checked against the rule's schema).

    Needs ``automation.change_automationrule`` (superusers and Ops Managers).
    A bad param is a DomainValidationError naming it. Takes effect with the next event.
    """
    if by is not None and not (by.is_authenticated and by.is_active and by.has_perm(CHANGE_RULE)):
        raise PermissionDenied("You may not change automation rules.")
    locked = AutomationRule.objects.select_for_update().get(pk=rule.pk)
    definition = locked.definition
    if definition is None:
        raise DomainValidationError({"key": f"No rule {locked.key!r} is installed in this OpsDesk."})
    fields = ["updated_at", "updated_by"]
    if params is not None:
        locked.params = definition.clean_params(params)
        fields.append("params")
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise DomainValidationError({"enabled": "Say true or false."})
        locked.enabled = enabled
        fields.append("enabled")
    locked.updated_by = by if by is not None and by.is_authenticated else None
    locked.save(update_fields=fields)
    return locked
