"""The risk score (§3.1): one function from the questionnaire, the services and their history.

``assess_risk`` is pure arithmetic; ``apply_risk`` gathers its inputs (the
services' highest criticality and, in one aggregate query, the share of failed
or rolled-back changes on those services over 180 days) and writes
``risk_score``, ``risk_factors`` and — unless a Change Manager overrode it with
``risk_override_reason`` — ``risk``.

Points (100 at most, ``risk_factors`` always sum to ``risk_score``):

| factor | points |
| --- | --- |
| user_impact | none 0, some 10, all 20 |
| complexity | low 0, medium 10, high 20 |
| not_tested_in_staging | 10 when not tested in staging |
| rollback_not_tested | 10 when the rollback was not tested |
| outage_required | 10 when an outage is needed |
| service_criticality | highest of its services: low 0, medium 5, high 10, critical 15 |
| failure_history | 15 × the share of failed or rolled-back changes on its services (180 days) |

An unanswered question counts its highest points: an unassessed change is not a safe one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opsdesk.choices import Criticality
from opsdesk.exceptions import DomainValidationError

from ..choices import RISK_QUESTIONS, Complexity, Risk, RiskFactor, UserImpact
from ..selectors import FAILURE_HISTORY_DAYS, failure_history

USER_IMPACT_POINTS = {UserImpact.NONE: 0, UserImpact.SOME: 10, UserImpact.ALL: 20}
COMPLEXITY_POINTS = {Complexity.LOW: 0, Complexity.MEDIUM: 10, Complexity.HIGH: 20}
NOT_TESTED_IN_STAGING_POINTS = 10
ROLLBACK_NOT_TESTED_POINTS = 10
OUTAGE_POINTS = 10
CRITICALITY_POINTS = {Criticality.LOW: 0, Criticality.MEDIUM: 5, Criticality.HIGH: 10, Criticality.CRITICAL: 15}
FAILURE_HISTORY_POINTS = 15


@dataclass(frozen=True)
class RiskAssessment:
    """A score and the factors it is made of."""

    score: int
    factors: list[dict] = field(default_factory=list)

    @property
    def risk(self) -> Risk:
        return Risk.for_score(self.score)


def validate_risk_answers(answers) -> dict:
    """The answers as a clean dict (known keys, allowed values); raises DomainValidationError.

    A partial questionnaire is fine for a draft; ``submit`` needs every answer.
    """
    if answers in (None, ""):
        return {}
    if not isinstance(answers, dict):
        raise DomainValidationError({"risk_answers": 'Give the answers as an object, e.g. {"user_impact": "some"}.'})
    errors = []
    unknown = sorted(set(answers) - set(RISK_QUESTIONS))
    if unknown:
        errors.append(f"Unknown question(s): {', '.join(unknown)}. Known: {', '.join(RISK_QUESTIONS)}.")
    clean = {}
    for key, (_question, allowed) in RISK_QUESTIONS.items():
        if key not in answers or answers[key] is None:
            continue
        value = answers[key]
        if not any(value is choice if isinstance(choice, bool) else value == choice for choice in allowed):
            if all(isinstance(choice, bool) for choice in allowed):
                expected = "true or false"
            else:
                expected = "one of " + ", ".join(f"“{choice}”" for choice in allowed)
            errors.append(f"{key}: {expected} expected, not {value!r}.")
            continue
        clean[key] = value
    if errors:
        raise DomainValidationError({"risk_answers": errors})
    return clean


def _factor(factor: RiskFactor, points: int, detail: str) -> dict:
    return {"factor": str(factor), "points": points, "detail": detail}


def assess_risk(*, answers: dict, criticalities, failed: int, finished: int) -> RiskAssessment:
    """The score of a change from its answers, its services' criticalities and their history (pure)."""
    factors = []
    impact = answers.get("user_impact")
    factors.append(_factor(
        RiskFactor.USER_IMPACT,
        USER_IMPACT_POINTS.get(impact, max(USER_IMPACT_POINTS.values())),
        UserImpact(impact).label if impact in UserImpact.values else "Not answered",
    ))
    complexity = answers.get("complexity")
    factors.append(_factor(
        RiskFactor.COMPLEXITY,
        COMPLEXITY_POINTS.get(complexity, max(COMPLEXITY_POINTS.values())),
        f"{Complexity(complexity).label} complexity" if complexity in Complexity.values else "Not answered",
    ))
    for key, factor, points, yes, no in (
        ("tested_in_staging", RiskFactor.NOT_TESTED_IN_STAGING, NOT_TESTED_IN_STAGING_POINTS,
         "Tested in staging", "Not tested in staging"),
        ("rollback_tested", RiskFactor.ROLLBACK_NOT_TESTED, ROLLBACK_NOT_TESTED_POINTS,
         "Rollback tested", "Rollback not tested"),
    ):
        value = answers.get(key)
        factors.append(_factor(factor, 0 if value is True else points,
                               yes if value is True else no if value is False else "Not answered"))
    outage = answers.get("outage_required")
    factors.append(_factor(RiskFactor.OUTAGE_REQUIRED, 0 if outage is False else OUTAGE_POINTS,
                           "No outage" if outage is False else "Outage required" if outage else "Not answered"))
    known = [c for c in criticalities if c in CRITICALITY_POINTS]
    highest = max(known, key=lambda c: CRITICALITY_POINTS[c]) if known else None
    factors.append(_factor(
        RiskFactor.SERVICE_CRITICALITY,
        CRITICALITY_POINTS[highest] if highest else 0,
        f"Highest service criticality: {Criticality(highest).label.lower()}" if highest else "No services",
    ))
    share = failed / finished if finished else 0.0
    factors.append(_factor(
        RiskFactor.FAILURE_HISTORY,
        round(FAILURE_HISTORY_POINTS * share),
        f"{failed} of {finished} changes on these services failed or were rolled back in {FAILURE_HISTORY_DAYS} days"
        if finished else f"No finished changes on these services in {FAILURE_HISTORY_DAYS} days",
    ))
    return RiskAssessment(score=sum(f["points"] for f in factors), factors=factors)


def apply_risk(change, *, service_ids, now: datetime) -> RiskAssessment:
    """Score ``change`` (unsaved changes included) and set its risk fields; the caller saves.

    ``risk`` follows the score unless ``risk_override_reason`` is set.
    """
    from opsdesk.models import Service

    ids = list(service_ids)
    criticalities = list(Service.objects.filter(pk__in=ids).values_list("criticality", flat=True)) if ids else []
    failed, finished = failure_history(ids, now=now, exclude_pk=change.pk)
    assessment = assess_risk(
        answers=change.risk_answers or {}, criticalities=criticalities, failed=failed, finished=finished
    )
    change.risk_score = assessment.score
    change.risk_factors = assessment.factors
    if not (change.risk_override_reason or "").strip():
        change.risk = assessment.risk
    return assessment
