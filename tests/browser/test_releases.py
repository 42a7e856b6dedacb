"""A release manager creates a release in the browser, is told what the prepare gate is
missing, adds the deliverables and moves the release on; a failed deployment opens an incident."""

from __future__ import annotations

import pytest

from incidents.models import Incident
from opsdesk.choices import Role
from releases import services
from releases.models import Release
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_release_manager_walks_a_release_through_the_prepare_gate(page, live_server, login, screenshot):
    manager = UserFactory(username="rm", first_name="Ravi", last_name="Menon", roles=[Role.RELEASE_MANAGERS])
    ServiceFactory(name="Checkout")
    login(page, live_server, manager)

    page.goto(f"{live_server.url}/releases/")
    page.get_by_role("link", name="New release").click()
    page.fill("#id_name", "Winter release")
    page.fill("#id_version", "4.0")
    page.select_option("#id_services", label=["Checkout"])
    page.get_by_role("button", name="Create release").click()
    page.wait_for_url(lambda url: "/new/" not in url)
    release = Release.objects.get()
    assert f"{release.number} created in planning." in page.locator(".alert-success").inner_text()
    assert "3 missing" in page.get_by_role("button", name="Start preparation").inner_text()

    page.get_by_role("button", name="Start preparation").click()
    page.wait_for_load_state()
    assert "missing release plan, timeline, resource plan" in (
        page.locator(".alert-danger").inner_text()
    )

    for kind in ("release_plan", "timeline", "resource_plan"):
        page.select_option("#id_kind >> nth=0", kind)
        page.fill("#id_content", f"Our {kind.replace('_', ' ')}.")
        page.get_by_role("button", name="Add deliverable").click()
        page.wait_for_load_state()
    assert page.locator(".step.current .gate-checklist li.missing").count() == 0

    page.fill("#id_comment", "Plan signed off")
    page.get_by_role("button", name="Start preparation").click()
    page.wait_for_load_state()
    release.refresh_from_db()
    assert release.state == "preparation"
    assert page.locator("[data-testid=release-state]").inner_text() == "Preparation"
    assert "Plan signed off" in page.locator("#history").inner_text()
    screenshot(page, "release-preparation")


def test_a_failed_deployment_links_its_incident(page, live_server, login, screenshot):
    manager = UserFactory(username="rm", roles=[Role.RELEASE_MANAGERS])
    release = services.release_create(by=manager, name="Hotfix", services=[ServiceFactory(name="Payments")])
    for gate, kinds in (("prepare", ("release_plan", "timeline", "resource_plan")),
                        ("implement", ("release_package", "test_plans", "rollback_plan"))):
        for kind in kinds:
            services.deliverable_add(release=release, by=manager, kind=kind, content="done")
        release = services.release_transition(instance=release, name=gate, by=manager)
    login(page, live_server, manager)
    page.goto(f"{live_server.url}/releases/{release.pk}/")
    page.fill("#id_environment", "production")
    page.get_by_role("button", name="Record deployment").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Finish deployment").wait_for()
    page.locator("select[name$=-status]").select_option("failed")
    page.get_by_role("button", name="Finish deployment").click()
    page.wait_for_load_state()
    incident = Incident.objects.get()
    assert f"Incident {incident.number} was opened." in page.locator(".alert-warning").inner_text()
    assert page.get_by_role("link", name=incident.number).first.is_visible()
    screenshot(page, "release-failed-deployment")
