"""Release admin: list, change page with gate status and transition buttons routed through
the service (permission checked, gate refusal as a message), inlines through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from opsdesk.choices import Role
from releases import services
from releases.models import Deployment, ReleaseDeliverable
from tests.factories import ReleaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_rm(user_in_role):
    return user_in_role(Role.RELEASE_MANAGERS, is_staff=True)


@pytest.fixture
def admin_client(client, staff_rm):
    client.force_login(staff_rm)
    return client


def test_changelist_and_search(admin_client, staff_rm):
    release = ReleaseFactory(name="Searchable", release_manager=staff_rm)
    ReleaseFactory(name="Other")
    response = admin_client.get(reverse("admin:releases_release_changelist"), {"q": "Searchable"})
    assert response.status_code == 200
    assert release.number in response.text and "Other" not in response.text


def test_change_page_shows_gate_status_and_buttons(admin_client, staff_rm):
    release = ReleaseFactory(release_manager=staff_rm)
    response = admin_client.get(reverse("admin:releases_release_change", args=[release.pk]))
    assert response.status_code == 200
    assert "Still missing: release plan, timeline, resource plan" in response.text
    assert reverse("admin:releases_release_transition", args=[release.pk, "cancel"]) in response.text
    assert 'name="state"' not in response.text  # state is read-only


def test_transition_button_refused_gate_is_a_message(admin_client, staff_rm):
    release = ReleaseFactory(release_manager=staff_rm)
    url = reverse("admin:releases_release_transition", args=[release.pk, "prepare"])
    response = admin_client.post(url, {"expected_state": "planning"}, follow=True)
    assert "missing release plan, timeline, resource plan" in response.text
    release.refresh_from_db()
    assert release.state == "planning"


def test_transition_button_runs_the_service(admin_client, staff_rm, satisfy):
    release = ReleaseFactory(release_manager=staff_rm)
    satisfy(release, "prepare", staff_rm)
    url = reverse("admin:releases_release_transition", args=[release.pk, "prepare"])
    assert admin_client.post(url, {"expected_state": "planning", "comment": "ok"}).status_code == 302
    release.refresh_from_db()
    assert release.state == "preparation"
    assert admin_client.get(url).status_code == 405


def test_transition_button_checks_permission(client, user_in_role):
    clerk = user_in_role(Role.CHANGE_MANAGERS, is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_release", "change_release"]))
    client.force_login(clerk)
    release = ReleaseFactory()
    response = client.post(reverse("admin:releases_release_transition", args=[release.pk, "cancel"]),
                           {"expected_state": "planning"})
    assert response.status_code == 403
    release.refresh_from_db()
    assert release.state == "planning"


def test_inline_deliverable_goes_through_the_service(admin_client, staff_rm):
    release = ReleaseFactory(release_manager=staff_rm)
    url = reverse("admin:releases_release_change", args=[release.pk])
    data = {
        "name": release.name, "version": release.version, "services": [s.pk for s in release.services.all()],
        "release_manager": staff_rm.pk, "planned_date": "",
        "deliverables-TOTAL_FORMS": "1", "deliverables-INITIAL_FORMS": "0",
        "deliverables-MIN_NUM_FORMS": "0", "deliverables-MAX_NUM_FORMS": "1000",
        "deliverables-0-kind": "timeline", "deliverables-0-content": "Q3 plan", "deliverables-0-link": "",
        "checks-TOTAL_FORMS": "0", "checks-INITIAL_FORMS": "0", "checks-MIN_NUM_FORMS": "0",
        "checks-MAX_NUM_FORMS": "1000",
        "deployments-TOTAL_FORMS": "0", "deployments-INITIAL_FORMS": "0", "deployments-MIN_NUM_FORMS": "0",
        "deployments-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    deliverable = ReleaseDeliverable.objects.get(release=release)
    assert (deliverable.kind, deliverable.author) == ("timeline", staff_rm)
    data["deliverables-0-content"] = ""
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "content or a link" in response.text
    assert ReleaseDeliverable.objects.filter(release=release).count() == 1


def test_add_release_in_admin_uses_the_service(admin_client, staff_rm):
    from tests.factories import ServiceFactory

    service = ServiceFactory()
    response = admin_client.post(reverse("admin:releases_release_add"), {
        "name": "From admin", "version": "1", "services": [service.pk], "release_manager": staff_rm.pk,
        "planned_date": "",
    })
    assert response.status_code == 302
    release = services.Release.objects.get(name="From admin")
    assert release.number == f"REL-{release.pk:06d}"
    assert list(release.services.all()) == [service]


def test_deployment_admin_finishes_a_deployment_with_one_incident(admin_client, staff_rm, advance):
    release = advance(ReleaseFactory(release_manager=staff_rm), staff_rm, to="implementation")
    deployment = services.deployment_create(release=release, by=staff_rm, environment="prod",
                                            started_at=timezone.now() - timedelta(minutes=3))
    url = reverse("admin:releases_deployment_change", args=[deployment.pk])
    assert admin_client.post(url, {"status": "failed", "finished_at_0": "", "finished_at_1": ""}).status_code == 302
    assert admin_client.post(url, {"status": "failed", "finished_at_0": "", "finished_at_1": ""}).status_code == 302
    assert Incident.objects.filter(caused_by_release=release).count() == 1
    assert Deployment.objects.get().status == "failed"
    response = admin_client.post(url, {"status": "succeeded", "finished_at_0": "", "finished_at_1": ""})
    assert response.status_code == 200
    assert "keeps its status" in response.text


def test_releases_cannot_be_deleted_in_admin(admin_client, staff_rm):
    release = ReleaseFactory(release_manager=staff_rm)
    assert admin_client.get(reverse("admin:releases_release_delete", args=[release.pk])).status_code == 403
