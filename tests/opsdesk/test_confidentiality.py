"""The confidentiality rule (§6) on every admin: no page of the admin registry shows a
confidential incident's text to a user who may not see it, searched or not."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from incidents import services as incident_services
from incidents.major import status_update_add
from incidents.models import Incident
from opsdesk import confidentiality, notifications
from opsdesk.choices import Role
from opsdesk.models import Notification, TransitionLog
from tests.factories import ServiceFactory, TeamFactory, UserFactory

SECRET = "Zanzibarsecret"


@pytest.fixture
def confidential_incident(db, incident_manager):
    """A confidential incident with the secret in its title, a transition comment, a note,
    a status update and a notification."""
    team = TeamFactory()
    service = ServiceFactory(owner_team=team)
    incident = incident_services.incident_create(
        by=incident_manager, title=f"Breach {SECRET}", service=service, severity="high",
        description=f"details {SECRET}", confidential=True,
    )
    incident = incident_services.incident_transition(
        instance=incident, name="acknowledge", by=incident_manager, comment=f"ack {SECRET}"
    )
    incident_services.incident_add_note(incident=incident, by=incident_manager, body=f"note {SECRET}")
    status_update_add(incident=incident, by=incident_manager, body=f"update {SECRET}")
    notifications.notify(
        recipients=[notifications.email("sec@example.test")], subject=f"About {SECRET}", body=SECRET,
        about=incident, dedupe_key=f"test-{incident.pk}",
    )
    return incident


@pytest.fixture
def nosy_staff(db):
    """A Product Owners member with staff access and view permission on every model of the admin."""
    user = UserFactory(roles=[Role.PRODUCT_OWNERS], is_staff=True)
    codenames = [f"view_{model._meta.model_name}" for model in admin.site._registry]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def _changelists():
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def test_every_admin_hides_confidential_incident_text(confidential_incident, nosy_staff):
    client = Client()
    client.force_login(nosy_staff)
    for url in _changelists():
        for query in ("", f"?q={SECRET[1:-1]}", "?q=Breach"):  # the search box echoes the term
            response = client.get(url + query)
            assert response.status_code in (200, 403), url
            assert SECRET not in response.content.decode(), url + query
    # Change pages of the incident's own rows: not found for this user.
    entry = TransitionLog.objects.get(object_id=confidential_incident.pk, transition="acknowledge")
    for url in (
        reverse("admin:opsdesk_transitionlog_change", args=[entry.pk]),
        reverse("admin:incidents_incident_change", args=[confidential_incident.pk]),
        reverse("admin:opsdesk_notification_change",
                args=[Notification.objects.get(recipient="sec@example.test").pk]),
    ):
        response = client.get(url, follow=True)
        assert SECRET not in response.content.decode(), url
    # Related lookups: the admin's autocomplete of incidents.
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "changes", "model_name": "changerequest", "field_name": "incidents", "term": "Breach",
    })
    assert SECRET not in response.content.decode()


def test_transition_log_search_shows_entries_to_who_may_see(confidential_incident, incident_manager):
    incident_manager.is_staff = True
    incident_manager.save()
    incident_manager.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client = Client()
    client.force_login(incident_manager)
    response = client.get(reverse("admin:opsdesk_transitionlog_changelist") + f"?q={SECRET[1:-1]}")
    assert response.status_code == 200
    assert f"ack {SECRET}" not in response.content.decode()  # the list shows the number, not the comment
    assert confidential_incident.number in response.content.decode()
    response = client.get(reverse("admin:opsdesk_notification_changelist") + f"?q={SECRET[1:-1]}")
    assert SECRET in response.content.decode()


def test_team_members_and_reporter_see_it_others_do_not(confidential_incident):
    member = UserFactory()
    confidential_incident.team.members.add(member)
    outsider = UserFactory(roles=[Role.SERVICE_DESK])
    logs = TransitionLog.objects.filter(object_id=confidential_incident.pk)
    assert confidentiality.restrict_generic(logs, member).exists()
    assert not confidentiality.restrict_generic(logs, outsider).exists()
    assert confidentiality.restrict_generic(logs, None).exists()  # the system
    assert list(confidentiality.hidden_incidents(outsider)) == [confidential_incident]
    assert not confidentiality.hidden_incidents(member).exists()
    assert confidentiality.visible_incidents(outsider).filter(pk=confidential_incident.pk).count() == 0
    assert Incident.objects.filter(pk=confidential_incident.pk).count() == 1


def test_the_deployment_admin_does_not_name_a_confidential_incident(confidential_incident, nosy_staff,
                                                                    incident_manager):
    from releases.models import Deployment
    from tests.factories import ReleaseFactory

    deployment = Deployment.objects.create(release=ReleaseFactory(), environment="production", status="failed",
                                           incident=confidential_incident)
    client = Client()
    client.force_login(nosy_staff)
    for url in (reverse("admin:releases_deployment_changelist"),
                reverse("admin:releases_deployment_change", args=[deployment.pk])):
        page = client.get(url).content.decode()
        assert confidential_incident.number not in page, url
        assert "a confidential incident" in page
    incident_manager.is_staff = True
    incident_manager.save()
    client.force_login(incident_manager)
    assert confidential_incident.number in client.get(reverse("admin:releases_deployment_changelist")).content.decode()
