"""The home page shows each role the actions it has: no link on it leads to a refusal."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from opsdesk.choices import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def main_links(content: str) -> set[str]:
    main = content.split("<main", 1)[1].split("</main>", 1)[0]
    return {href.replace("&amp;", "&") for href in re.findall(r'href="([^"#]+)"', main)}


@pytest.mark.parametrize("role", list(Role))
def test_every_home_page_link_of_each_role_answers_without_a_refusal(client, role):
    client.force_login(UserFactory(roles=[role]))
    links = main_links(client.get(reverse("home")).content.decode())
    assert links
    for href in sorted(links):
        assert client.get(href).status_code == 200, f"{role}: {href}"


@pytest.mark.parametrize(("role", "shown", "hidden"), [
    (Role.SERVICE_DESK, ["Log an incident", "My work"], ["New change", "New release"]),
    (Role.CHANGE_MANAGERS, ["New change"], ["Log an incident", "New release"]),
    (Role.RELEASE_MANAGERS, ["New release"], ["Log an incident", "New change"]),
    (Role.TECH_LEADS, ["Awaiting approval"], ["Log an incident", "New change", "New release"]),
    (Role.API_READERS, ["Open incidents"], ["Log an incident", "My work", "New change", "New release"]),
])
def test_the_home_page_offers_the_actions_of_the_role(client, role, shown, hidden):
    client.force_login(UserFactory(roles=[role]))
    content = client.get(reverse("home")).content.decode()
    for label in shown:
        assert f">{label}</a>" in content
    for label in hidden:
        assert f">{label}</a>" not in content


def test_the_favicon_is_served_as_a_static_file(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
