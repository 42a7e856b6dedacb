"""/api/v1/automation/: the run log (filterable, confidential subjects hidden) and the rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from automation.models import AutomationRule
from incidents import services as incident_services
from opsdesk.choices import Role
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/automation/runs/"
RULES = "/api/v1/automation/rules/"


@pytest.fixture
def history(team, service, incident_manager, rules_off):
    """Runs of auto_assign: acted on a public and a confidential incident, skipped on a team without members."""
    rules_off("recurring_incidents_to_change")
    public = incident_services.incident_create(by=None, service=service, title="Checkout slow", severity="low")
    secret = incident_services.incident_create(
        by=incident_manager, service=service, title="Credential leak", severity="high", confidential=True
    )
    lonely = incident_services.incident_create(
        by=None, service=ServiceFactory(owner_team=TeamFactory(name="Empty")), title="Disk full", severity="low"
    )
    return public, secret, lonely


def test_the_run_log_lists_subject_outcome_and_records(api_client, incident_manager, history):
    public, secret, lonely = history
    body = api_client(incident_manager).get(RUNS).json()
    assert body["count"] == 3
    newest = body["results"][0]
    assert newest["subject"] == {"type": "incident", "id": lonely.pk, "number": lonely.number}
    assert (newest["rule"], newest["event"], newest["outcome"]) == ("auto_assign", "incident.created", "skipped")
    oldest = body["results"][-1]
    assert oldest["outcome"] == "acted"
    assert oldest["changed_objects"] == [{"type": "incident", "id": public.pk, "number": public.number}]
    assert oldest["created_objects"] == []


def test_filters_by_rule_outcome_event_and_subject(api_client, incident_manager, history):
    public, _, _ = history
    client = api_client(incident_manager)
    assert client.get(RUNS, {"outcome": "skipped"}).json()["count"] == 1
    assert client.get(RUNS, {"rule": "auto_assign", "outcome": "acted"}).json()["count"] == 2
    assert client.get(RUNS, {"event": "deployment.failed"}).json()["count"] == 0
    assert client.get(RUNS, {"subject": public.number}).json()["results"][0]["subject"]["id"] == public.pk
    assert client.get(RUNS, {"outcome": "sideways"}).status_code == 400


def test_runs_about_a_confidential_incident_are_hidden_from_outsiders(api_client, api_reader, team, history):
    public, secret, _ = history
    seen = {r["subject"]["id"] for r in api_client(api_reader).get(RUNS).json()["results"]}
    assert secret.pk not in seen and public.pk in seen
    assert api_client(api_reader).get(RUNS, {"subject": secret.number}).json()["count"] == 0
    # The incident's own team sees it (§6).
    member = team.members.first()
    member.groups.add(Group.objects.get(name=Role.API_READERS))
    assert api_client(member).get(RUNS, {"subject": secret.number}).json()["count"] == 1


def test_anonymous_and_roleless_users_are_refused(api_client, history):
    assert api_client().get(RUNS).status_code == 401
    assert api_client(UserFactory()).get(RUNS).status_code == 403


def test_rules_are_read_by_everyone_with_a_role_and_changed_by_ops_managers(api_client, api_reader, user_in_role):
    body = api_client(api_reader).get(RULES).json()
    keys = [rule["key"] for rule in body]
    assert keys == sorted(["alert_to_incident", "approved_change_to_release", "auto_assign",
                           "failed_deployment_to_incident", "recurring_incidents_to_change"])
    recurring = api_client(api_reader).get(f"{RULES}recurring_incidents_to_change/").json()
    assert recurring["trigger"] == "incident.created"
    assert recurring["params_schema"]["count"] == {
        "type": "integer", "default": 3, "min": 2, "max": 100,
        "help": "Incidents on one service that make it recurring.",
    }
    assert api_client(api_reader).patch(f"{RULES}auto_assign/", {"enabled": False}, format="json").status_code == 403
    ops = user_in_role(Role.OPS_MANAGERS)
    answer = api_client(ops).patch(f"{RULES}auto_assign/", {"enabled": False, "params": {"strategy": "least_loaded"}},
                                   format="json")
    assert answer.status_code == 200
    assert (answer.json()["enabled"], answer.json()["params"], answer.json()["updated_by"]) == (
        False, {"strategy": "least_loaded"}, ops.username,
    )
    assert not AutomationRule.objects.get(key="auto_assign").enabled


@pytest.mark.parametrize("body", [{"params": {"strategy": "coin"}}, {"params": {"count": 1}}, {"params": "x"},
                                  {"enabled": "perhaps"}, {"params": None}])
def test_bad_rule_updates_are_400_and_change_nothing(api_client, user_in_role, body):
    ops = user_in_role(Role.OPS_MANAGERS)
    answer = api_client(ops).patch(f"{RULES}auto_assign/", body, format="json")
    assert answer.status_code == 400
    rule = AutomationRule.objects.get(key="auto_assign")
    assert (rule.enabled, rule.params) == (True, {"strategy": "round_robin"})


def test_unknown_rule_is_404(api_client, api_reader):
    assert api_client(api_reader).get(f"{RULES}make_coffee/").status_code == 404


def test_the_run_list_makes_a_constant_number_of_queries(api_client, incident_manager, team, service, rules_off,
                                                         django_assert_max_num_queries):
    rules_off("recurring_incidents_to_change")
    client = api_client(incident_manager)
    for _ in range(2):
        incident_services.incident_create(by=None, service=service, title="x", severity="low")
    client.get(RUNS)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(RUNS)
    for _ in range(8):
        incident_services.incident_create(by=None, service=service, title="x", severity="low")
    with django_assert_max_num_queries(len(few)):
        assert client.get(RUNS).json()["count"] == 10


def test_a_rule_nobody_changed_has_no_updated_by_and_the_schema_allows_it(api_client, api_reader):
    rules = api_client(api_reader).get(RULES).json()
    assert any(rule["updated_by"] is None for rule in rules)
    schema = api_client(api_reader).get("/api/schema/", {"format": "json"}).json()
    assert schema["components"]["schemas"]["AutomationRule"]["properties"]["updated_by"]["nullable"] is True
