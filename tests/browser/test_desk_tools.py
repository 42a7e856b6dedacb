"""The desk tools in Chromium, at desktop (1280 px) and phone (390 px) width: the search box finds
an incident by two words of its title, an approver jumps to a change by its number, and the desk
attaches a log file to an incident and downloads it again."""

from __future__ import annotations

import pytest

from changes import services as change_services
from desk.models import Attachment
from opsdesk.choices import Role
from tests.factories import ChangeRequestFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture(params=list(WIDTHS))
def width(request, page):
    page.set_viewport_size({"width": WIDTHS[request.param], "height": 900})
    return request.param


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def search_box(page, width):
    """The navigation's search box (behind the menu button on a phone)."""
    if width == "phone":
        page.get_by_role("button", name="Toggle navigation").click()
    box = page.get_by_role("searchbox", name="Search incidents, changes and releases")
    box.wait_for(state="visible")
    return box


def assert_no_sideways_scroll(page):
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


def test_desk_finds_an_incident_by_two_words_of_its_title(page, live_server, login, screenshot, width):
    desk = UserFactory(username="desk", first_name="Dana", last_name="Desk", roles=[Role.SERVICE_DESK])
    wanted = IncidentFactory(title="Payments API timeouts at checkout")
    IncidentFactory(title="Payments dashboard blank")
    IncidentFactory(title="Login page slow")
    login(page, live_server, desk)

    box = search_box(page, width)
    box.fill("timeouts payments")
    box.press("Enter")
    page.wait_for_url(lambda url: "/desk/search/" in url)
    results = page.locator(".search-group")
    assert results.count() == 1
    assert "Incidents" in results.first.inner_text() and "1 match" in results.first.inner_text()
    assert "Payments dashboard blank" not in page.content()
    assert_no_sideways_scroll(page)
    screenshot(page, f"search-results-{width}")
    page.get_by_role("link", name=wanted.number).click()
    page.wait_for_url(f"{live_server.url}/incidents/{wanted.pk}/")

    # The queue's own search box finds it the same way.
    page.goto(f"{live_server.url}/incidents/?q=payments+timeouts")
    assert page.locator(f"#incident-{wanted.pk}").is_visible()
    assert page.get_by_role("link", name="Export CSV").get_attribute("href").endswith("?q=payments+timeouts")

    # Saved under a name, it is offered on the queue and applies with a click.
    page.get_by_placeholder("Save this filter as…").fill("Payment timeouts")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    assert "Filter “Payment timeouts” saved." in page.locator(".alert-success").inner_text()
    assert_no_sideways_scroll(page)
    screenshot(page, f"queue-list-tools-{width}")
    page.goto(f"{live_server.url}/incidents/")
    page.get_by_role("button", name="Saved filters (1)").click()
    page.get_by_role("link", name="Payment timeouts").click()
    page.wait_for_url(lambda url: "q=payments+timeouts" in url)
    assert page.locator(f"#incident-{wanted.pk}").is_visible()


def test_an_approver_jumps_to_a_change_from_the_search_box(page, live_server, login, screenshot, width):
    lead = UserFactory(username="techlead", roles=[Role.TECH_LEADS])
    change = ChangeRequestFactory(title="Rotate the TLS certificates")
    change_services.change_transition(instance=change, name="submit", by=UserFactory(roles=[Role.CHANGE_MANAGERS]))
    login(page, live_server, lead)

    if width == "desktop":  # on a phone the badge sits in the menu, opened below
        assert "Awaiting my approval 1" in page.locator(".approval-badge").inner_text()
    box = search_box(page, width)
    box.fill(change.number.lower().replace("-00000", "-"))  # "chg-1": case and zeros do not matter
    box.press("Enter")
    page.wait_for_url(f"{live_server.url}/changes/{change.pk}/")
    assert change.number in page.locator("h1").inner_text()
    assert_no_sideways_scroll(page)
    screenshot(page, f"search-jump-to-change-{width}")


def test_desk_attaches_a_log_file_and_downloads_it(page, live_server, login, screenshot, width, tmp_path):
    desk = UserFactory(username="desk", roles=[Role.SERVICE_DESK])
    incident = IncidentFactory(title="Checkout errors after deploy")
    log = tmp_path / "checkout-errors.log"
    log.write_text("2026-12-02T03:00:00Z ERROR upstream timed out\n")
    login(page, live_server, desk)

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    panel = page.locator("#attachments")
    panel.locator("input[type=file]").set_input_files(str(log))
    panel.get_by_role("button", name="Attach", exact=True).click()
    page.wait_for_url(lambda url: url.endswith("#attachments"))
    assert "checkout-errors.log attached." in page.locator(".alert-success").inner_text()
    assert Attachment.objects.get().filename == "checkout-errors.log"
    panel = page.locator("#attachments")
    assert "checkout-errors.log" in panel.inner_text()
    assert_no_sideways_scroll(page)
    panel.scroll_into_view_if_needed()
    screenshot(page, f"incident-attachments-{width}")

    with page.expect_download() as info:
        panel.get_by_role("link", name="checkout-errors.log").click()
    download = info.value
    assert download.suggested_filename == "checkout-errors.log"
    saved = tmp_path / "downloaded.log"
    download.save_as(saved)
    assert saved.read_text() == log.read_text()
