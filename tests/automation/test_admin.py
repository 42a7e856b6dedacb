"""The admin of the rules (Ops Managers and superusers switch and tune) and of the run log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automation.models import AutomationRule, AutomationRun
from incidents import services as incident_services
from opsdesk.choices import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(user_in_role, client):
    user = user_in_role(Role.OPS_MANAGERS, is_staff=True)
    client.force_login(user)
    return user


def change_url(key):
    return reverse("admin:automation_automationrule_change", args=[AutomationRule.objects.get(key=key).pk])


def test_an_ops_manager_tunes_a_rule_in_the_admin(client, ops):
    page = client.get(change_url("recurring_incidents_to_change"))
    assert page.status_code == 200
    assert b"Incidents on one service that make it recurring." in page.content  # the schema is shown
    answer = client.post(change_url("recurring_incidents_to_change"), {"enabled": "on", "params": '{"count": 4}'})
    assert answer.status_code == 302
    rule = AutomationRule.objects.get(key="recurring_incidents_to_change")
    assert (rule.params, rule.updated_by) == ({"count": 4, "days": 7}, ops)


@pytest.mark.parametrize(("params", "message"), [
    ('{"count": 0}', "count: Ensure this value is greater than or equal to 2."),
    ('{"cnt": 4}', "Unknown parameter"),
    ('[1, 2]', "Give the parameters as a JSON object."),
    ("{not json", "Enter a valid JSON."),
])
def test_a_bad_param_is_a_form_error_not_a_500(client, ops, params, message):
    answer = client.post(change_url("recurring_incidents_to_change"), {"enabled": "on", "params": params})
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert AutomationRule.objects.get(key="recurring_incidents_to_change").params == {"count": 3, "days": 7}


def test_the_change_list_switches_rules_off(client, ops):
    rule = AutomationRule.objects.get(key="auto_assign")
    rules = list(AutomationRule.objects.order_by("key"))
    data = {"form-TOTAL_FORMS": str(len(rules)), "form-INITIAL_FORMS": str(len(rules)), "_save": "Save"}
    for index, row in enumerate(rules):
        data[f"form-{index}-id"] = str(row.pk)
        if row.pk != rule.pk:
            data[f"form-{index}-enabled"] = "on"
    answer = client.post(reverse("admin:automation_automationrule_changelist"), data)
    assert answer.status_code == 302
    assert not AutomationRule.objects.get(pk=rule.pk).enabled
    assert AutomationRule.objects.filter(enabled=True).count() == len(rules) - 1


def test_rules_cannot_be_added_or_deleted_even_by_a_superuser(admin_client):
    assert admin_client.get(reverse("admin:automation_automationrule_add")).status_code == 403
    rule = AutomationRule.objects.get(key="auto_assign")
    assert admin_client.post(reverse("admin:automation_automationrule_delete", args=[rule.pk])).status_code == 403


def test_other_staff_cannot_change_rules(client, user_in_role):
    client.force_login(user_in_role(Role.INCIDENT_MANAGERS, is_staff=True))
    answer = client.post(change_url("auto_assign"), {"params": '{"strategy": "none"}'})
    assert answer.status_code == 403


def test_the_run_log_is_read_only_and_hides_confidential_subjects(client, ops, admin_client, team, service,
                                                                   incident_manager, rules_off):
    rules_off("recurring_incidents_to_change")
    incident_services.incident_create(by=None, service=service, title="Slow", severity="low")
    secret = incident_services.incident_create(by=incident_manager, service=service, title="Leak", severity="high",
                                               confidential=True)
    run = AutomationRun.objects.get(subject_number=secret.number)
    listing = client.get(reverse("admin:automation_automationrun_changelist"), {"q": secret.number})
    assert listing.status_code == 200 and "0 results" in listing.content.decode()
    assert client.get(reverse("admin:automation_automationrun_change", args=[run.pk])).status_code == 302
    assert secret.number in admin_client.get(reverse("admin:automation_automationrun_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:automation_automationrun_change", args=[run.pk]))
    assert detail.status_code == 200 and b'name="detail"' not in detail.content  # nothing editable
    assert admin_client.post(reverse("admin:automation_automationrun_delete", args=[run.pk])).status_code == 403
