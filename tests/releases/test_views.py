"""Release web pages: list, calendar, detail (stepper, gates, forms), create/edit, refusals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from opsdesk.choices import Role
from releases import services
from releases.models import Deployment, Release, ReleaseCheck, ReleaseDeliverable
from tests.factories import ChangeRequestFactory, ReleaseFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rm_client(client, release_manager):
    client.force_login(release_manager)
    return client


def test_pages_need_login(client, release):
    for url in [reverse("releases:list"), reverse("releases:calendar"), reverse("releases:detail", args=[release.pk]),
                reverse("releases:create")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_list_shows_releases_and_filters_by_state_and_service(rm_client, release_manager):
    service = ServiceFactory(name="Payments")
    planning = ReleaseFactory(name="Alpha", services=[service])
    other = ReleaseFactory(name="Beta")
    services.release_transition(instance=other, name="cancel", by=release_manager)
    response = rm_client.get(reverse("releases:list"))
    assert response.status_code == 200
    assert planning.number in response.text and other.number in response.text
    response = rm_client.get(reverse("releases:list"), {"state": "cancelled"})
    assert other.number in response.text and planning.number not in response.text
    response = rm_client.get(reverse("releases:list"), {"service": service.pk})
    assert planning.number in response.text and other.number not in response.text


def test_list_filters_by_planned_date(rm_client):
    early = ReleaseFactory(planned_date=date(2026, 1, 5))
    late = ReleaseFactory(planned_date=date(2026, 3, 5))
    response = rm_client.get(reverse("releases:list"), {"planned_after": "2026-02-01"})
    assert late.number in response.text and early.number not in response.text


def test_list_paginates(rm_client):
    ReleaseFactory.create_batch(27)
    response = rm_client.get(reverse("releases:list"))
    assert response.text.count('href="/releases/') - response.text.count('href="/releases/new') >= 25
    assert "27 releases" in response.text
    assert rm_client.get(reverse("releases:list"), {"page": 2}).status_code == 200


def test_calendar_shows_planned_and_completed_releases(rm_client, release, release_manager, advance):
    release.planned_date = date(2026, 5, 14)
    release.save()
    response = rm_client.get(reverse("releases:calendar"), {"month": "2026-05"})
    assert response.status_code == 200
    assert "May 2026" in response.text and release.number in response.text
    done = advance(ReleaseFactory(release_manager=release_manager), release_manager, to="completed")
    response = rm_client.get(reverse("releases:calendar"), {"month": timezone.localdate().strftime("%Y-%m")})
    assert f"✓ {done.number}" in response.text


def test_calendar_with_a_bad_month_falls_back_to_this_month(rm_client):
    response = rm_client.get(reverse("releases:calendar"), {"month": "2026-13"})
    assert response.status_code == 200
    assert timezone.localdate().strftime("%B %Y") in response.text
    assert "Give the month as YYYY-MM" in response.text


def test_detail_shows_stepper_gates_and_sections(rm_client, release, release_manager, satisfy):
    change = ChangeRequestFactory(release=release)
    satisfy(release, "prepare", release_manager)
    response = rm_client.get(reverse("releases:detail", args=[release.pk]))
    assert response.status_code == 200
    text = response.text
    assert 'class="step current"' in text
    assert "✓</span> Release plan" in text
    assert "✗</span> Release package" in text
    assert f"✗</span> {change.number} approved" in text
    assert reverse("changes:detail", args=[change.pk]) in text
    assert "Start preparation" in text and "Record a check" in text


def test_detail_shows_a_blocked_gate_button_and_the_refusal_names_what_is_missing(rm_client, release):
    response = rm_client.get(reverse("releases:detail", args=[release.pk]))
    assert "3 missing" in response.text
    response = rm_client.post(reverse("releases:transition", args=[release.pk, "prepare"]),
                              {"expected_state": "planning"}, follow=True)
    assert "missing release plan, timeline, resource plan" in response.text
    release.refresh_from_db()
    assert release.state == "planning"


def test_transition_through_the_page(rm_client, release, release_manager, satisfy):
    satisfy(release, "prepare", release_manager)
    response = rm_client.post(reverse("releases:transition", args=[release.pk, "prepare"]),
                              {"expected_state": "planning", "comment": "plan signed off"})
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.state == "preparation"
    page = rm_client.get(reverse("releases:detail", args=[release.pk])).text
    assert "plan signed off" in page


def test_stale_expected_state_is_refused_with_a_message(rm_client, release, release_manager, satisfy):
    satisfy(release, "prepare", release_manager)
    response = rm_client.post(reverse("releases:transition", args=[release.pk, "cancel"]),
                              {"expected_state": "preparation"}, follow=True)
    assert "changed by someone else" in response.text
    release.refresh_from_db()
    assert release.state == "planning"


def test_add_deliverable_check_and_deployment_through_the_page(rm_client, release, release_manager, advance):
    url = reverse("releases:deliverable_add", args=[release.pk])
    response = rm_client.post(url, {"kind": "timeline", "content": "", "link": ""})
    assert response.status_code == 400
    assert "content or a link" in response.text
    assert rm_client.post(url, {"kind": "timeline", "content": "Q3"}).status_code == 302
    assert ReleaseDeliverable.objects.filter(release=release, kind="timeline").count() == 1

    response = rm_client.post(reverse("releases:check_record", args=[release.pk]),
                              {"kind": "security_assessment", "passed": "false", "note": "weak"})
    assert response.status_code == 302
    assert ReleaseCheck.objects.get(release=release).passed is False

    release = advance(release, release_manager, to="implementation")
    response = rm_client.post(reverse("releases:deployment_add", args=[release.pk]),
                              {"environment": "prod", "status": "succeeded", "started_at": "", "finished_at": ""})
    assert response.status_code == 400
    assert "finish time" in response.text
    response = rm_client.post(reverse("releases:deployment_add", args=[release.pk]),
                              {"environment": "prod", "status": "running"})
    assert response.status_code == 302
    deployment = Deployment.objects.get(release=release)
    response = rm_client.post(reverse("releases:deployment_update", args=[release.pk, deployment.pk]),
                              {f"dep{deployment.pk}-status": "failed"}, follow=True)
    incident = Incident.objects.get(caused_by_release=release)
    assert f"Incident {incident.number} was opened" in response.text
    assert reverse("incidents:detail", args=[incident.pk]) in response.text


def test_create_and_edit_release(rm_client, release_manager):
    service = ServiceFactory()
    response = rm_client.get(reverse("releases:create"))
    assert response.status_code == 200
    response = rm_client.post(reverse("releases:create"), {
        "name": "Autumn", "version": "3.1", "services": [service.pk], "release_manager": release_manager.pk,
        "planned_date": "2026-12-01",
    })
    release = Release.objects.get(name="Autumn")
    assert response.status_code == 302
    assert (release.state, release.planned_date, release.release_manager) == (
        "planning", date(2026, 12, 1), release_manager)
    response = rm_client.post(reverse("releases:edit", args=[release.pk]), {
        "name": "Autumn II", "version": "3.2", "services": [service.pk], "release_manager": "",
        "planned_date": "",
    })
    assert response.status_code == 302
    release.refresh_from_db()
    assert (release.name, release.release_manager, release.planned_date) == ("Autumn II", None, None)


def test_create_form_errors(rm_client):
    response = rm_client.post(reverse("releases:create"), {"name": "", "services": []})
    assert response.status_code == 200
    assert "This field is required" in response.text
    assert Release.objects.count() == 0


@pytest.mark.parametrize("role", [Role.SERVICE_DESK, Role.CHANGE_MANAGERS, Role.API_READERS])
def test_other_roles_read_but_may_not_write(client, user_in_role, role, release):
    client.force_login(user_in_role(role))
    assert client.get(reverse("releases:list")).status_code == 200
    detail = client.get(reverse("releases:detail", args=[release.pk]))
    assert detail.status_code == 200
    assert "Add a deliverable" not in detail.text and "Start preparation" not in detail.text
    assert client.get(reverse("releases:create")).status_code == 403
    assert client.get(reverse("releases:edit", args=[release.pk])).status_code == 403
    posts = [
        (reverse("releases:create"), {"name": "x"}),
        (reverse("releases:transition", args=[release.pk, "cancel"]), {"expected_state": "planning"}),
        (reverse("releases:deliverable_add", args=[release.pk]), {"kind": "timeline", "content": "x"}),
        (reverse("releases:deployment_add", args=[release.pk]), {"environment": "prod"}),
        (reverse("releases:check_record", args=[release.pk]), {"kind": "security_assessment", "passed": "true"}),
    ]
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == 403, url
    release.refresh_from_db()
    assert release.state == "planning"


def test_unknown_release_and_transition_are_404(rm_client, release):
    assert rm_client.get(reverse("releases:detail", args=[99999])).status_code == 404
    assert rm_client.post(reverse("releases:transition", args=[release.pk, "explode"])).status_code == 404


def test_detail_query_count_does_not_grow_with_data(rm_client, release_manager, advance,
                                                    django_assert_max_num_queries):
    def build(extra):
        release = advance(ReleaseFactory(release_manager=release_manager), release_manager, to="implementation")
        now = timezone.now()
        for n in range(extra):
            ChangeRequestFactory(release=release)
            services.deliverable_add(release=release, by=release_manager, kind="status_updates", content=f"{n}")
            services.deployment_create(release=release, by=release_manager, environment=f"env{n}",
                                       status="failed", started_at=now - timedelta(minutes=5), finished_at=now)
        return release

    small, large = build(1), build(6)
    url = reverse("releases:detail", args=[small.pk])
    rm_client.get(url)  # warm caches (session, permissions, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        assert rm_client.get(url).status_code == 200
    with django_assert_max_num_queries(len(first)):
        assert rm_client.get(reverse("releases:detail", args=[large.pk])).status_code == 200
    # 17 measured: session/user/roles, release + 6 prefetches, history, incidents, and the automation
    # panel (its runs, their records, the deployments they are about); the major-incident banner.
    assert len(first) <= 18


def test_list_query_count_does_not_grow_with_rows(rm_client, django_assert_max_num_queries):
    ReleaseFactory.create_batch(2)
    rm_client.get(reverse("releases:list"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        rm_client.get(reverse("releases:list"))
    for release in ReleaseFactory.create_batch(20):
        ChangeRequestFactory(release=release)
    with django_assert_max_num_queries(len(first)):
        rm_client.get(reverse("releases:list"))
    assert len(first) <= 16  # 14 measured (the user's saved filters of the list included)


def test_stepper_counts_many_changes_and_names_the_waiting_ones(rm_client, release):
    from changes.models import ChangeRequest

    changes = [ChangeRequestFactory(release=release) for _ in range(7)]
    ChangeRequest.objects.filter(pk__in=[c.pk for c in changes[1:]]).update(state="completed")
    text = rm_client.get(reverse("releases:detail", args=[release.pk])).text
    assert "6 of 7 linked changes approved" in text
    assert f"✗</span> {changes[0].number} approved" in text
    assert f"{changes[1].number} approved<" not in text


def test_a_closed_release_cannot_be_edited(rm_client, release, release_manager):
    services.release_transition(instance=release, name="cancel", by=release_manager)
    response = rm_client.get(reverse("releases:edit", args=[release.pk]), follow=True)
    assert "is cancelled and can no longer be edited" in response.text
    assert "Add a deliverable" not in response.text
