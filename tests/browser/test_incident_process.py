"""The incident process in the browser: an Incident Manager declares a major incident, keeps the
stakeholders informed, works the checklist and runs the review; the banner follows every page,
at desk width and on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import ActionItem, IncidentStep
from opsdesk.choices import Role
from tests.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.browser


def no_inline_script(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> block"
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handler"


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_major_incident_from_declaration_to_review(page, live_server, login, screenshot):
    manager = UserFactory(username="ines", first_name="Ines", last_name="Morgan", roles=[Role.INCIDENT_MANAGERS])
    lead = UserFactory(username="ada", first_name="Ada", last_name="Okafor", roles=[Role.SERVICE_DESK])
    team = TeamFactory(name="Payments", lead=lead, members=[lead])
    service = ServiceFactory(name="Payments API", owner_team=team, stakeholder_emails="cfo@example.com")
    incident = services.incident_create(by=manager, title="Card payments fail", service=service, severity="critical")
    login(page, live_server, manager)

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    no_inline_script(page.content())
    page.locator("#declare-major-form").get_by_role("button", name="Declare major incident").click()
    page.wait_for_load_state()
    assert "is now a major incident" in page.locator(".alert-success").inner_text()
    assert incident.number in page.locator("#major-banner").inner_text()

    updates = page.locator("#status-updates")
    updates.locator("textarea[name=body]").fill("Card payments fail; next update in 30 minutes.")
    updates.get_by_label("Stakeholders").check()
    updates.get_by_role("button", name="Post update").click()
    page.wait_for_load_state()
    assert "Status update posted." in page.locator(".alert-success").inner_text()
    assert "Stakeholders" in page.locator("#status-updates .status-update").first.inner_text()
    assert page.locator("#step-stakeholder_communication").get_attribute("data-state") == "done"

    step = page.locator("#step-impact_analysis")
    step.get_by_role("button", name="Done").click()
    page.wait_for_load_state()
    assert page.locator("#step-impact_analysis").get_attribute("data-state") == "done"
    skip = page.locator("#step-containment_measures")
    skip.locator("summary").click()
    skip.get_by_placeholder("Why skip it?").fill("Nothing to contain.")
    skip.get_by_role("button", name="Skip", exact=True).click()
    page.wait_for_load_state()
    assert page.locator("#step-containment_measures").get_attribute("data-state") == "skipped"
    assert "Nothing to contain." in page.locator("#step-containment_measures").inner_text()
    assert page.locator("#step-team_assembly").get_by_role("button", name="Skip…").count() == 0  # required
    screenshot(page, "process-major-checklist-1280")

    # The banner follows every page, also on a phone.
    page.goto(f"{live_server.url}/changes/")
    assert incident.number in page.locator("#major-banner").inner_text()
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    assert page.locator("#major-banner").is_visible()
    no_horizontal_scroll(page)
    screenshot(page, "process-major-390")

    # Resolved: the review section, an action item, the follow-up target.
    page.set_viewport_size({"width": 1280, "height": 1000})
    actions = page.locator("#actions")
    actions.get_by_role("button", name="Resolve…").click()
    # The form opens with Bootstrap's collapse; submit it once it stands still (a click during the
    # animation can miss the moving button on a busy machine), and wait for the answer's page.
    expect(page.locator("#tf-resolve")).to_have_class(re.compile(r"\bcollapse\b.*\bshow\b"), timeout=30_000)
    actions.locator("textarea[name=resolution_summary]").fill("Rolled back the gateway configuration.")
    posted = re.compile(rf"/incidents/{incident.pk}/transition/resolve/")
    with page.expect_response(lambda r: posted.search(r.url) and r.request.method == "POST", timeout=60_000):
        actions.get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_load_state()
    review = page.locator("#review")
    expect(review).to_contain_text("Follow-up due", timeout=60_000)  # the resolve's round trip, on a busy machine
    assert page.locator("#major-banner").count() == 0  # no longer open
    review.locator("#id_title").fill("Alert on the card error rate")
    review.locator("#id_owner").select_option(label="Ada Okafor (ada)")
    review.locator("#id_due_date").fill("2099-01-31")
    review.get_by_role("button", name="Add action item").click()
    page.wait_for_load_state()
    assert ActionItem.objects.filter(incident=incident, owner=lead).exists()
    assert "Alert on the card error rate" in page.locator("#review .action-items").inner_text()
    assert IncidentStep.objects.get(incident=incident, key="preventive_measures").state == "done"
    screenshot(page, "process-review-1280")
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    no_horizontal_scroll(page)
    screenshot(page, "process-review-390")


def test_an_outsider_sees_a_confidential_major_incident_counted_not_named(page, live_server, login):
    manager = UserFactory(username="ines", roles=[Role.INCIDENT_MANAGERS])
    desk = UserFactory(username="desk", roles=[Role.SERVICE_DESK])
    incident = services.incident_create(by=manager, title="Credential leak", service=ServiceFactory(),
                                        severity="critical", confidential=True, major=True)
    login(page, live_server, desk)
    page.goto(f"{live_server.url}/incidents/")
    banner = page.locator("#major-banner").inner_text()
    assert "1 confidential major incident" in banner
    assert incident.number not in banner and "Credential leak" not in page.content()
