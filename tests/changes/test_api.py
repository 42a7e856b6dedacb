"""/api/v1/changes/: CRUD, transitions, board decisions, filters, status codes, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from changes import services
from changes.choices import ChangeState
from changes.models import ChangeApproval, ChangeFreeze, ChangeRequest
from opsdesk.choices import Role
from tests.factories import LOW_RISK_ANSWERS, ServiceFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/changes/"


def detail(change, suffix=""):
    return f"/api/v1/changes/{change.pk}/{suffix}"


def new_change_body(service, **extra):
    start = timezone.now() + timedelta(days=3)
    return {
        "title": "Upgrade the database",
        "change_type": "normal",
        "risk_answers": dict(LOW_RISK_ANSWERS),
        "services": [service.pk],
        "testing_plan": "Smoke tests",
        "rollback_plan": "Restore the snapshot",
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(hours=2)).isoformat(),
        **extra,
    }


def test_anonymous_gets_401(api_client):
    assert api_client().get(LIST).status_code == 401


def test_create_as_change_manager(api_client, change_manager, service):
    response = api_client(change_manager).post(LIST, new_change_body(service), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    change = ChangeRequest.objects.get(pk=body["id"])
    assert body["number"] == change.number
    assert body["state"] == "draft"
    assert body["requester"] == change_manager.pk
    assert body["available_transitions"] == ["cancel", "submit"]
    assert body["conflicts"] == []
    assert body["approvals"] == []


def test_create_forbidden_for_readers(api_client, api_reader, service):
    assert api_client(api_reader).post(LIST, new_change_body(service), format="json").status_code == 403


def test_create_bad_input_is_400(api_client, change_manager, service):
    body = new_change_body(service)
    body["planned_end"], body["planned_start"] = body["planned_start"], body["planned_end"]
    response = api_client(change_manager).post(LIST, body, format="json")
    assert response.status_code == 400
    assert "planned_end" in response.json()
    response = api_client(change_manager).post(LIST, {**new_change_body(service), "services": []}, format="json")
    assert response.status_code == 400
    assert "services" in response.json()


def test_state_and_approval_fields_are_read_only(api_client, change_manager, make_change):
    change = make_change()
    response = api_client(change_manager).patch(
        detail(change), {"state": "approved", "approved_at": timezone.now().isoformat(), "title": "Renamed"},
        format="json",
    )
    assert response.status_code == 200
    change.refresh_from_db()
    assert (change.state, change.approved_at, change.title) == ("draft", None, "Renamed")


def test_editing_a_submitted_change_is_409(api_client, change_manager, submitted_change):
    change = submitted_change()
    response = api_client(change_manager).patch(detail(change), {"title": "x"}, format="json")
    assert response.status_code == 409
    assert "only draft changes can be edited" in response.json()["detail"]


def test_delete_is_not_allowed(api_client, change_manager, make_change, admin_user):
    change = make_change()
    assert api_client(change_manager).delete(detail(change)).status_code == 403
    assert api_client(admin_user).delete(detail(change)).status_code == 405
    assert ChangeRequest.objects.filter(pk=change.pk).exists()


def test_unknown_change_is_404(api_client, change_manager, tech_lead):
    assert api_client(change_manager).get("/api/v1/changes/999999/").status_code == 404
    assert api_client(tech_lead).post("/api/v1/changes/999999/approve/", {}, format="json").status_code == 404


def test_submit_and_board_approval_flow(api_client, change_manager, make_change, board, approved_events):
    change = make_change()
    response = api_client(change_manager).post(detail(change, "submit/"), {"comment": "ready"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "submitted"
    for role, member in board.items():
        response = api_client(member).post(detail(change, "approve/"), {"comment": f"ok {role}"}, format="json")
        assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "approved"
    assert [(a["role"], a["decision"]) for a in body["approvals"]] == [
        ("technical", "approved"), ("business", "approved"), ("operations", "approved")
    ]
    assert approved_events == [change.pk]
    nested = api_client(change_manager).get(detail(change, "approvals/"))
    assert nested.status_code == 200
    # Paginated, as the schema says (it was a bare list).
    assert nested.json()["count"] == 3
    assert [a["approver_username"] for a in nested.json()["results"]] == ["tech", "po", "ops"]


def test_submit_in_freeze_is_400(api_client, change_manager, make_change):
    change = make_change()
    ChangeFreeze.objects.create(name="Black Friday", start=change.planned_start, end=change.planned_end)
    response = api_client(change_manager).post(detail(change, "submit/"), {}, format="json")
    assert response.status_code == 400
    assert "Black Friday" in response.json()["planned_start"][0]


def test_submit_missing_plans_is_400(api_client, change_manager, make_change):
    response = api_client(change_manager).post(detail(make_change(testing_plan=""), "submit/"), {}, format="json")
    assert response.status_code == 400
    assert "testing_plan" in response.json()


def test_transition_forbidden_is_403_and_wrong_state_is_409(api_client, change_manager, tech_lead, make_change):
    change = make_change()
    assert api_client(tech_lead).post(detail(change, "submit/"), {}, format="json").status_code == 403
    assert api_client(change_manager).post(detail(change, "start/"), {}, format="json").status_code == 409


def test_stale_expected_state_is_409(api_client, change_manager, make_change):
    change = make_change()
    response = api_client(change_manager).post(detail(change, "submit/"), {"expected_state": "submitted"},
                                               format="json")
    assert response.status_code == 409


def test_approve_refusals(api_client, submitted_change, make_change, change_manager, tech_lead, user_in_role):
    change = submitted_change()
    assert api_client(change_manager).post(detail(change, "approve/"), {}, format="json").status_code == 403
    both = user_in_role(Role.TECH_LEADS, Role.OPS_MANAGERS)
    response = api_client(both).post(detail(change, "approve/"), {}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()
    assert api_client(both).post(detail(change, "approve/"), {"role": "operations"}, format="json").status_code == 200
    assert api_client(both).post(detail(change, "approve/"), {"role": "technical"}, format="json").status_code == 403
    assert api_client(tech_lead).post(detail(make_change(), "approve/"), {}, format="json").status_code == 409
    assert api_client(tech_lead).post(detail(change, "approve/"), {"role": "nope"}, format="json").status_code == 400


def test_reject_needs_a_comment(api_client, submitted_change, tech_lead, change_manager):
    change = submitted_change()
    response = api_client(tech_lead).post(detail(change, "reject/"), {}, format="json")
    assert response.status_code == 400
    assert "comment" in response.json()
    response = api_client(tech_lead).post(detail(change, "reject/"), {"comment": "No"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"
    assert ChangeApproval.objects.get(change=change).decision == "rejected"


def test_available_transitions_exclude_board_transitions(api_client, submitted_change, tech_lead):
    change = submitted_change()
    body = api_client(tech_lead).get(detail(change)).json()
    assert body["available_transitions"] == []


def test_outcome_with_review_note(api_client, change_manager, submitted_change, ops_manager):
    change = submitted_change(change_type="emergency")
    services.change_approve(change=change, by=ops_manager)
    client = api_client(change_manager)
    assert client.post(detail(change, "start/"), {}, format="json").status_code == 200
    assert client.post(detail(change, "fail/"), {}, format="json").status_code == 400
    response = client.post(detail(change, "fail/"), {"post_implementation_review": "Disk full"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "failed"


def test_conflicts_field(api_client, approved_change, make_change, change_manager):
    first = approved_change()
    draft = make_change(planned_start=first.planned_start, planned_end=first.planned_end)
    body = api_client(change_manager).get(detail(draft)).json()
    assert [(c["kind"], c["change"], c["number"]) for c in body["conflicts"]] == [
        ("overlap", first.pk, first.number)
    ]
    assert first.number in body["conflicts"][0]["detail"]
    listed = {row["id"]: row["conflicts"] for row in api_client(change_manager).get(LIST).json()["results"]}
    assert [c["change"] for c in listed[draft.pk]] == [first.pk]
    assert [c["change"] for c in listed[first.pk]] == []


def test_filters_and_ordering(api_client, api_reader, make_change, submitted_change, service):
    draft = make_change(risk="high")
    submitted = submitted_change()
    other_service = make_change(services=[ServiceFactory()])
    client = api_client(api_reader)

    def ids(query):
        response = client.get(LIST + query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("?state=submitted") == [submitted.pk]
    assert set(ids("?state=draft&state=submitted")) == {draft.pk, submitted.pk, other_service.pk}
    assert ids("?risk=high") == [draft.pk]
    assert set(ids(f"?service={service.pk}")) == {draft.pk, submitted.pk}
    assert ids("?change_type=emergency") == []
    far = (timezone.now() + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    assert ids(f"?planned_after={far}") == []
    assert len(ids(f"?planned_before={far}")) == 3
    assert ids("?ordering=created_at") == [draft.pk, submitted.pk, other_service.pk]
    assert ids(f"?q={draft.number}") == [draft.pk]
    assert client.get(LIST + "?state=bogus").status_code == 400


def test_list_query_count_does_not_grow(api_client, api_reader, make_change, approved_change,
                                        django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_client(api_reader)
    approved_change()
    make_change()
    assert client.get(LIST).status_code == 200  # warm the permission cache
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST).status_code == 200
    for _ in range(8):
        approved_change()
        make_change()
    with CaptureQueriesContext(connection) as many:
        response = client.get(LIST)
    assert response.json()["count"] == 18
    assert len(many.captured_queries) == len(few.captured_queries), [q["sql"][:90] for q in many.captured_queries]


def test_page_size_is_capped(api_client, api_reader, make_change):
    make_change()
    response = api_client(api_reader).get(LIST + "?page_size=1000")
    assert response.status_code == 200
    assert ChangeState.DRAFT == response.json()["results"][0]["state"]


def test_linking_an_invisible_confidential_incident_is_400(api_client, change_manager, make_change):
    from tests.factories import IncidentFactory

    secret = IncidentFactory(confidential=True)
    visible = IncidentFactory()
    change = make_change()
    client = api_client(change_manager)
    response = client.patch(detail(change), {"incidents": [secret.pk]}, format="json")
    assert response.status_code == 400
    assert "incidents" in response.json()
    response = client.patch(detail(change), {"incidents": [visible.pk]}, format="json")
    assert response.status_code == 200
    assert response.json()["incidents"] == [visible.pk]
