"""/api/v1/releases/: CRUD (no delete), gates, transitions (409 with missing), nested
deliverables / deployments / checks, filters, ordering, permissions, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from opsdesk.choices import Role
from releases import services
from releases.models import Deployment, Release
from tests.factories import ChangeRequestFactory, ReleaseFactory, ServiceFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/releases/"


@pytest.fixture
def rm_api(api_client, release_manager):
    return api_client(release_manager)


def test_anonymous_gets_401(api_client, release):
    assert api_client().get(BASE).status_code == 401


def test_list_carries_number_transitions_services_changes_and_gates(rm_api, release, release_manager, satisfy):
    change = ChangeRequestFactory(release=release)
    satisfy(release, "prepare", release_manager)
    body = rm_api.get(BASE).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["number"] == release.number
    assert row["state"] == "planning"
    assert sorted(row["available_transitions"]) == ["cancel", "prepare"]
    assert row["services"] == [s.pk for s in release.services.all()]
    assert row["changes"] == [{"id": change.pk, "number": change.number, "state": "draft"}]
    assert row["gates"]["prepare"] == []
    assert row["gates"]["implement"] == [
        "deliverable release_package", "deliverable test_plans", "deliverable rollback_plan",
        f"approval of change {change.number}",
    ]
    assert row["gates"]["verify"] == ["deliverable deployment_report", "a succeeded deployment"]


def test_create_update_and_no_delete(rm_api, release_manager):
    service = ServiceFactory()
    response = rm_api.post(BASE, {"name": "Winter", "version": "4.0", "services": [service.pk],
                                  "planned_date": "2026-12-20"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["state"], body["release_manager"], body["number"]) == (
        "planning", release_manager.pk, f"REL-{body['id']:06d}")
    response = rm_api.patch(f"{BASE}{body['id']}/", {"name": "Winter II", "state": "completed"}, format="json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["state"]) == ("Winter II", "planning")
    # No delete route: the model permission check answers first (nobody holds delete_release).
    assert rm_api.delete(f"{BASE}{body['id']}/").status_code in (403, 405)
    assert Release.objects.filter(pk=body["id"]).exists()


def test_create_validation_400(rm_api, service_desk_user):
    response = rm_api.post(BASE, {"name": "", "services": []}, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"name", "services"}
    response = rm_api.post(BASE, {"name": "x", "services": [ServiceFactory().pk],
                                  "release_manager": service_desk_user.pk}, format="json")
    assert response.status_code == 400
    assert "release_manager" in response.json()


def test_gate_refusal_is_409_naming_what_is_missing(rm_api, release, release_manager):
    response = rm_api.post(f"{BASE}{release.pk}/prepare/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["missing"] == [
        "deliverable release_plan", "deliverable timeline", "deliverable resource_plan",
    ]
    response = rm_api.post(f"{BASE}{release.pk}/complete/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["missing"] == []


def test_transition_through_the_api(rm_api, release, release_manager, satisfy):
    satisfy(release, "prepare", release_manager)
    response = rm_api.post(f"{BASE}{release.pk}/prepare/", {"comment": "go", "expected_state": "planning"},
                           format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "preparation"
    stale = rm_api.post(f"{BASE}{release.pk}/cancel/", {"expected_state": "planning"}, format="json")
    assert stale.status_code == 409


def test_nested_deliverables(rm_api, release, release_manager):
    url = f"{BASE}{release.pk}/deliverables/"
    assert rm_api.post(url, {"kind": "timeline"}, format="json").status_code == 400
    assert rm_api.post(url, {"kind": "bogus", "content": "x"}, format="json").status_code == 400
    response = rm_api.post(url, {"kind": "timeline", "link": "https://wiki.example.test/t"}, format="json")
    assert response.status_code == 201
    assert response.json()["author"] == release_manager.username
    assert [d["kind"] for d in rm_api.get(url).json()] == ["timeline"]


def test_nested_deployments_and_failure_incident(rm_api, release, release_manager, advance):
    url = f"{BASE}{release.pk}/deployments/"
    assert rm_api.post(url, {"environment": "prod"}, format="json").status_code == 400  # planning
    advance(release, release_manager, to="implementation")
    response = rm_api.post(url, {"environment": "prod", "status": "succeeded"}, format="json")
    assert response.status_code == 400
    assert "finished_at" in response.json()
    response = rm_api.post(url, {"environment": "prod"}, format="json")
    assert response.status_code == 201
    deployment_id = response.json()["id"]
    patch_url = f"{url}{deployment_id}/"
    response = rm_api.patch(patch_url, {"status": "failed"}, format="json")
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert (response.json()["incident"], response.json()["incident_number"]) == (incident.pk, incident.number)
    assert rm_api.patch(patch_url, {"status": "failed"}, format="json").status_code == 200
    assert Incident.objects.count() == 1
    assert rm_api.patch(patch_url, {"status": "succeeded"}, format="json").status_code == 400
    assert [d["id"] for d in rm_api.get(url).json()] == [deployment_id]
    other = ReleaseFactory()
    assert rm_api.patch(f"{BASE}{other.pk}/deployments/{deployment_id}/", {"status": "failed"},
                        format="json").status_code == 404


def test_nested_checks(rm_api, release):
    url = f"{BASE}{release.pk}/checks/"
    assert rm_api.post(url, {"kind": "security_assessment", "passed": False}, format="json").status_code == 201
    assert rm_api.post(url, {"kind": "security_assessment", "passed": True, "note": "ok"},
                       format="json").status_code == 201
    assert [(c["kind"], c["passed"], c["note"]) for c in rm_api.get(url).json()] == [
        ("security_assessment", True, "ok")]
    assert rm_api.post(url, {"kind": "nope", "passed": True}, format="json").status_code == 400


def test_filters_and_ordering(rm_api, release_manager):
    service = ServiceFactory()
    a = ReleaseFactory(name="A", services=[service], planned_date=timezone.localdate() + timedelta(days=1))
    b = ReleaseFactory(name="B", planned_date=timezone.localdate() + timedelta(days=30))
    services.release_transition(instance=b, name="cancel", by=release_manager)

    def numbers(**params):
        return [r["number"] for r in rm_api.get(BASE, params).json()["results"]]

    assert numbers(state="cancelled") == [b.number]
    assert numbers(service=service.pk) == [a.number]
    assert numbers(planned_after=(timezone.localdate() + timedelta(days=10)).isoformat()) == [b.number]
    assert numbers(planned_before=(timezone.localdate() + timedelta(days=10)).isoformat()) == [a.number]
    assert numbers(ordering="planned_date") == [a.number, b.number]
    assert numbers(ordering="-planned_date") == [b.number, a.number]
    assert rm_api.get(BASE, {"state": "nonsense"}).status_code == 400


def test_unknown_release_is_404(rm_api):
    assert rm_api.get(f"{BASE}99999/").status_code == 404
    assert rm_api.post(f"{BASE}99999/prepare/", {}, format="json").status_code == 404
    assert rm_api.get(f"{BASE}99999/deliverables/").status_code == 404


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.CHANGE_MANAGERS, Role.API_READERS])
def test_other_roles_may_read_but_not_write(api_client, user_in_role, role, release):
    client = api_client(user_in_role(role))
    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}{release.pk}/").json()["available_transitions"] == []
    for path in ("deliverables/", "deployments/", "checks/"):
        assert client.get(f"{BASE}{release.pk}/{path}").status_code == 200
    writes = [
        client.post(BASE, {"name": "x", "services": [release.services.first().pk]}, format="json"),
        client.patch(f"{BASE}{release.pk}/", {"name": "y"}, format="json"),
        client.post(f"{BASE}{release.pk}/cancel/", {}, format="json"),
        client.post(f"{BASE}{release.pk}/deliverables/", {"kind": "timeline", "content": "x"}, format="json"),
        client.post(f"{BASE}{release.pk}/deployments/", {"environment": "prod"}, format="json"),
        client.post(f"{BASE}{release.pk}/checks/", {"kind": "security_assessment", "passed": True},
                    format="json"),
    ]
    assert [r.status_code for r in writes] == [403] * len(writes)
    release.refresh_from_db()
    assert (release.state, release.name) == ("planning", release.name)
    assert Deployment.objects.count() == 0


def test_deployment_patch_refused_for_readers(api_client, api_reader, release, release_manager, advance):
    advance(release, release_manager, to="implementation")
    deployment = services.deployment_create(release=release, by=release_manager, environment="prod")
    response = api_client(api_reader).patch(f"{BASE}{release.pk}/deployments/{deployment.pk}/",
                                            {"status": "failed"}, format="json")
    assert response.status_code == 403
    assert Incident.objects.count() == 0


def test_list_query_count_is_constant(rm_api, release_manager, satisfy, django_assert_num_queries):
    def add_releases(count):
        for _ in range(count):
            release = ReleaseFactory(release_manager=release_manager)
            satisfy(release, "prepare", release_manager)
            ChangeRequestFactory(release=release)
            services.check_record(release=release, by=release_manager, kind="security_assessment", passed=True)

    add_releases(2)
    rm_api.get(BASE)  # warm the permission cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert rm_api.get(BASE).json()["count"] == 2
    add_releases(8)
    with django_assert_num_queries(len(small)):
        assert rm_api.get(BASE).json()["count"] == 10
    # count, page, services, deliverables, deployments, checks, changes
    assert len(small) == 7


def test_release_count_in_db_matches(rm_api):
    assert Release.objects.count() == 0
