"""The risk score (§3.1): factors from the answers, criticality and history; overrides; standard changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from changes import services
from changes.choices import Risk
from changes.models import ChangeRequest
from changes.services.risk import assess_risk
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed
from opsdesk.models import TransitionLog
from tests.factories import LOW_RISK_ANSWERS, ChangeRequestFactory, ServiceFactory

HIGH_ANSWERS = {"user_impact": "all", "complexity": "high", "tested_in_staging": False, "rollback_tested": False,
                "outage_required": True}


def points(change_or_factors, factor):
    factors = getattr(change_or_factors, "risk_factors", change_or_factors)
    return next(f["points"] for f in factors if f["factor"] == factor)


def test_factors_sum_to_the_score_and_cover_every_input():
    assessment = assess_risk(answers=HIGH_ANSWERS, criticalities=["low", "critical"], failed=1, finished=3)
    assert sum(f["points"] for f in assessment.factors) == assessment.score == 20 + 20 + 10 + 10 + 10 + 15 + 5
    assert {f["factor"] for f in assessment.factors} == {
        "user_impact", "complexity", "not_tested_in_staging", "rollback_not_tested", "outage_required",
        "service_criticality", "failure_history",
    }
    assert assessment.risk == Risk.HIGH


@pytest.mark.parametrize(("score", "risk"), [(0, "low"), (34, "low"), (35, "medium"), (64, "medium"),
                                             (65, "high"), (100, "high")])
def test_thresholds(score, risk):
    assert Risk.for_score(score) == risk


def test_unanswered_questions_count_their_highest_points():
    assessment = assess_risk(answers={}, criticalities=["low"], failed=0, finished=0)
    assert assessment.score == 20 + 20 + 10 + 10 + 10
    assert assessment.risk == Risk.HIGH


def test_create_scores_the_change_and_risk_follows(change_manager):
    service = ServiceFactory(criticality="high")
    change = services.change_create(by=change_manager, title="Swap disks", services=[service],
                                    risk_answers={**LOW_RISK_ANSWERS, "user_impact": "some", "complexity": "medium"})
    assert change.risk_score == 10 + 10 + 10  # impact, complexity, criticality
    assert points(change, "service_criticality") == 10
    assert change.risk == Risk.LOW
    change = services.change_update(change=change, by=change_manager, risk_answers=HIGH_ANSWERS)
    assert change.risk_score == 80 and change.risk == Risk.HIGH


def test_failure_history_of_the_services_over_180_days_in_one_query(change_manager, make_change):
    service = ServiceFactory(criticality="low")
    now = timezone.now()
    for state, days in (("failed", 10), ("rolled_back", 100), ("completed", 20), ("completed", 30),
                        ("failed", 200)):  # the last is too old
        ChangeRequestFactory(services=[service], state=state, actual_end=now - timedelta(days=days))
    ChangeRequestFactory(services=[ServiceFactory()], state="failed", actual_end=now - timedelta(days=1))
    with CaptureQueriesContext(connection) as ctx:
        change = services.change_create(by=change_manager, title="Tune", services=[service],
                                        risk_answers=LOW_RISK_ANSWERS)
    history_queries = [q for q in ctx.captured_queries if "COUNT" in q["sql"].upper()]
    assert len(history_queries) == 1
    assert points(change, "failure_history") == round(15 * 2 / 4)
    detail = next(f["detail"] for f in change.risk_factors if f["factor"] == "failure_history")
    assert detail.startswith("2 of 4 changes")


def test_asking_for_another_risk_without_a_reason_is_refused(change_manager, service):
    with pytest.raises(DomainValidationError) as exc:
        services.change_create(by=change_manager, title="x", services=[service], risk_answers=LOW_RISK_ANSWERS,
                               risk="high")
    assert "risk_override_reason" in exc.value.errors["risk"][0]


def test_change_manager_overrides_with_a_reason_and_it_is_logged(change_manager, service):
    change = services.change_create(by=change_manager, title="x", services=[service], risk_answers=LOW_RISK_ANSWERS)
    change = services.change_update(change=change, by=change_manager, risk="high",
                                    risk_override_reason="Touches the payment path at month end.")
    assert change.risk == Risk.HIGH and change.risk_score < 35
    entry = TransitionLog.objects.get(transition="risk_override", object_id=change.pk)
    assert "month end" in entry.comment and entry.user == change_manager
    # The override sticks through later edits, until the reason is removed.
    change = services.change_update(change=change, by=change_manager, title="y")
    assert change.risk == Risk.HIGH
    change = services.change_update(change=change, by=change_manager, risk_override_reason="")
    assert change.risk == Risk.LOW
    assert TransitionLog.objects.filter(transition="risk_override", object_id=change.pk).count() == 2


def test_only_change_managers_override(user_in_role, service, change_manager):
    from django.contrib.auth.models import Permission

    from opsdesk.choices import Role

    editor = user_in_role(Role.SERVICE_DESK)
    editor.user_permissions.add(*Permission.objects.filter(codename__in=["add_changerequest"]))
    editor = type(editor).objects.get(pk=editor.pk)
    with pytest.raises(PermissionDenied):
        services.change_create(by=editor, title="x", services=[service], risk_answers=LOW_RISK_ANSWERS,
                               risk="high", risk_override_reason="I think so")
    assert not ChangeRequest.objects.exists()


def test_bad_answers_are_400(change_manager, service):
    with pytest.raises(DomainValidationError) as exc:
        services.change_create(by=change_manager, title="x", services=[service],
                               risk_answers={"user_impact": "everyone", "tested_in_staging": "yes", "colour": 1})
    text = " ".join(exc.value.errors["risk_answers"])
    assert "colour" in text and "user_impact" in text and "tested_in_staging: true or false" in text


def test_submit_needs_every_answer(make_change, change_manager):
    change = make_change(risk_answers={"user_impact": "none"})
    with pytest.raises(DomainValidationError) as exc:
        services.change_transition(instance=change, name="submit", by=change_manager)
    assert "complexity" in exc.value.errors["risk_answers"][0]


def test_standard_change_must_compute_low(make_change, change_manager, template):
    risky = make_change(change_type="standard", template=template, risk="low", risk_override_reason="Trust me",
                        risk_answers=HIGH_ANSWERS)
    with pytest.raises(DomainValidationError) as exc:
        services.change_transition(instance=risky, name="submit", by=change_manager)
    assert "must compute low" in exc.value.errors["risk"][0]
    safe = make_change(change_type="standard", template=template, risk_answers=LOW_RISK_ANSWERS)
    safe = services.change_transition(instance=safe, name="submit", by=change_manager)
    assert safe.state == "approved" and safe.risk == Risk.LOW


def test_submitted_change_is_not_rescored_by_edits(submitted_change, change_manager):
    change = submitted_change()
    with pytest.raises(TransitionNotAllowed):
        services.change_update(change=change, by=change_manager, risk_answers=HIGH_ANSWERS)


def test_api_shows_score_and_factors_and_validates(api_client, change_manager, service):
    client = api_client(change_manager)
    start = timezone.now() + timedelta(days=3)
    body = {"title": "API change", "services": [service.pk], "risk_answers": HIGH_ANSWERS,
            "planned_start": start.isoformat(), "planned_end": (start + timedelta(hours=1)).isoformat()}
    response = client.post("/api/v1/changes/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["risk"] == "high" and data["risk_score"] == sum(f["points"] for f in data["risk_factors"])
    assert {"factor", "points"} <= set(data["risk_factors"][0])
    bad = client.patch(f"/api/v1/changes/{data['id']}/", {"risk_answers": {"complexity": "huge"}}, format="json")
    assert bad.status_code == 400 and "risk_answers" in bad.json()
    refused = client.patch(f"/api/v1/changes/{data['id']}/", {"risk": "low"}, format="json")
    assert refused.status_code == 400 and "risk" in refused.json()
    overridden = client.patch(f"/api/v1/changes/{data['id']}/",
                              {"risk": "medium", "risk_override_reason": "Staged rollout."}, format="json")
    assert overridden.status_code == 200 and overridden.json()["risk"] == "medium"
