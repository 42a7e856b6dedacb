"""A change manager drafts a change in the browser and submits it to the board."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from changes.choices import ChangeState
from changes.models import ChangeRequest, StandardChangeTemplate
from opsdesk.choices import Role
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_change_manager_drafts_and_submits_a_change(page, live_server, login, screenshot):
    manager = UserFactory(username="cm", first_name="Carla", last_name="Manager", roles=[Role.CHANGE_MANAGERS])
    ServiceFactory(name="Checkout")
    ServiceFactory(name="Billing DB")
    start = timezone.localtime(timezone.now() + timedelta(days=3)).replace(hour=22, minute=0, second=0, microsecond=0)
    login(page, live_server, manager)

    page.goto(f"{live_server.url}/changes/")
    page.get_by_role("link", name="New change").click()
    page.fill("#id_title", "Upgrade the billing database")
    page.select_option("#id_services", label=["Billing DB", "Checkout"])
    page.fill("#id_planned_start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_planned_end", start.strftime("%Y-%m-%dT%H:%M"))  # not after the start: refused
    page.fill("#id_implementation_plan", "Run the upgrade playbook.")
    page.get_by_role("button", name="Save draft").click()
    assert "The planned end must be after the planned start." in page.locator("#change-form").inner_text()
    assert ChangeRequest.objects.count() == 0

    page.fill("#id_planned_end", (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_testing_plan", "Smoke tests.")
    page.fill("#id_rollback_plan", "Restore the snapshot.")
    page.select_option("#id_risk_user_impact", "some")
    page.select_option("#id_risk_complexity", "medium")
    page.select_option("#id_risk_tested_in_staging", "yes")
    page.select_option("#id_risk_rollback_tested", "yes")
    page.select_option("#id_risk_outage_required", "no")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    change = ChangeRequest.objects.get()
    assert page.url == f"{live_server.url}/changes/{change.pk}/"
    assert f"Draft {change.number} saved." in page.locator(".alert-success").inner_text()
    assert change.planned_start == start
    assert {s.name for s in change.services.all()} == {"Billing DB", "Checkout"}

    page.fill("#id_transition_comment", "Ready for the board")
    page.get_by_role("button", name="Submit to the board").click()
    page.wait_for_load_state()
    assert f"{change.number} is now submitted." in page.locator(".alert-success").inner_text()
    assert "Submitted" in page.locator("#change-badges").inner_text()
    assert "Still waiting for: Technical, Business, Operations." in page.locator("#approvals").inner_text()
    assert "Ready for the board" in page.locator("#history").inner_text()
    change.refresh_from_db()
    assert change.state == ChangeState.SUBMITTED
    screenshot(page, "changes-submitted")


def test_picking_a_template_fills_the_empty_plans(page, live_server, login):
    manager = UserFactory(username="cm", roles=[Role.CHANGE_MANAGERS])
    StandardChangeTemplate.objects.create(
        name="Certificate renewal", implementation_plan="Renew the certificate.",
        testing_plan="Check the expiry date.", rollback_plan="Restore the old certificate.",
    )
    login(page, live_server, manager)
    page.goto(f"{live_server.url}/changes/new/")
    page.fill("#id_rollback_plan", "My own rollback.")
    page.select_option("#id_template", label="Certificate renewal")
    assert page.input_value("#id_change_type") == "standard"
    assert page.input_value("#id_testing_plan") == "Check the expiry date."
    assert page.input_value("#id_rollback_plan") == "My own rollback."  # nothing is overwritten
