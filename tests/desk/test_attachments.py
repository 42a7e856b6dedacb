"""Attachments on incidents and changes: limits, storage, who may see, add and remove them."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from desk import services
from desk.models import Attachment
from opsdesk.choices import Role
from opsdesk.models import TransitionLog
from tests.factories import ChangeRequestFactory, IncidentFactory, UserFactory

LOG = b"2026-12-02T03:00:00Z ERROR upstream timed out\n"


def upload(name="app.log", content=LOG, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def post_file(client, kind, record, file):
    return client.post(reverse("desk:attachment-upload", args=[kind, record.pk]), {"file": file})


@pytest.fixture
def incident(db):
    return IncidentFactory(title="Checkout errors")


def test_desk_attaches_a_log_to_an_incident_and_downloads_it(client, desk, incident):
    client.force_login(desk)
    response = post_file(client, "incident", incident, upload())
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", args=[incident.pk]) + "#attachments"
    attachment = Attachment.objects.get()
    assert (attachment.record, attachment.filename, attachment.mime_type, attachment.size) == \
        (incident, "app.log", "text/plain", len(LOG))
    assert attachment.uploaded_by == desk
    assert default_storage.exists(attachment.file.name)
    assert "app.log" not in attachment.file.name  # stored under a random name
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert reverse("desk:attachment-download", args=[attachment.pk]) in page
    download = client.get(reverse("desk:attachment-download", args=[attachment.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == LOG
    assert download["Content-Disposition"] == 'attachment; filename="app.log"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "text/plain"
    # the timeline says so
    log = TransitionLog.objects.get(object_id=incident.pk, transition="attachment_added")
    assert log.user == desk and "app.log" in log.comment


def test_a_screenshot_on_a_change(client, db):
    manager = UserFactory(roles=[Role.CHANGE_MANAGERS])
    change = ChangeRequestFactory()
    client.force_login(manager)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    assert post_file(client, "change", change, upload("before.png", png, "image/png")).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.record == change and attachment.mime_type == "image/png"
    assert "before.png" in client.get(reverse("changes:detail", args=[change.pk])).content.decode()


@pytest.mark.parametrize("name, content_type", [
    ("page.html", "text/html"), ("drawing.svg", "image/svg+xml"), ("run.exe", "application/octet-stream"),
    ("script.js", "text/javascript"),
])
def test_types_outside_the_allow_list_are_refused(client, desk, incident, name, content_type):
    client.force_login(desk)
    response = post_file(client, "incident", incident, upload(name, b"<script>alert(1)</script>", content_type))
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("are not accepted" in m for m in messages)


def test_the_browsers_claimed_type_does_not_override_the_name(desk, incident):
    with pytest.raises(services.DomainValidationError):
        services.attachment_add(record=incident, upload=upload("x.html", b"<b>", "text/plain"), by=desk)


def test_the_size_limit(settings, desk, incident):
    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(services.DomainValidationError) as refused:
        services.attachment_add(record=incident, upload=upload(content=b"x" * 11), by=desk)
    assert "larger than" in str(refused.value.errors["file"])
    with pytest.raises(services.DomainValidationError):
        services.attachment_add(record=incident, upload=upload(content=b""), by=desk)
    assert services.attachment_add(record=incident, upload=upload(content=b"x" * 10), by=desk).size == 10


def test_who_may_attach(client, incident, db):
    reader = UserFactory(roles=[Role.API_READERS])
    lead = UserFactory(roles=[Role.TECH_LEADS])
    for user in (reader, lead):
        client.force_login(user)
        assert post_file(client, "incident", incident, upload()).status_code == 403
    change = ChangeRequestFactory()
    client.force_login(UserFactory(roles=[Role.SERVICE_DESK]))
    assert post_file(client, "change", change, upload()).status_code == 403
    assert not Attachment.objects.exists()


def test_attachments_of_a_confidential_incident_stay_hidden(client, confidential, outsider, security_team):
    member = security_team.members.get()
    attachment = services.attachment_add(record=confidential, upload=upload(), by=member)
    client.force_login(outsider)
    assert client.get(reverse("desk:attachment-download", args=[attachment.pk])).status_code == 404
    assert post_file(client, "incident", confidential, upload()).status_code == 404
    assert client.post(reverse("desk:attachment-delete", args=[attachment.pk])).status_code == 404
    client.force_login(member)
    assert client.get(reverse("desk:attachment-download", args=[attachment.pk])).status_code == 200


def test_removal_by_the_uploader_or_a_manager_only(client, desk, incident):
    first = services.attachment_add(record=incident, upload=upload("a.log"), by=desk)
    second = services.attachment_add(record=incident, upload=upload("b.log"), by=desk)
    colleague = UserFactory(roles=[Role.SERVICE_DESK])
    client.force_login(colleague)
    assert client.post(reverse("desk:attachment-delete", args=[first.pk])).status_code == 403
    change_manager = UserFactory(roles=[Role.CHANGE_MANAGERS])  # a manager, but of changes
    client.force_login(change_manager)
    assert client.post(reverse("desk:attachment-delete", args=[first.pk])).status_code == 403
    client.force_login(desk)
    assert client.post(reverse("desk:attachment-delete", args=[first.pk])).status_code == 302
    client.force_login(UserFactory(roles=[Role.INCIDENT_MANAGERS]))
    assert client.post(reverse("desk:attachment-delete", args=[second.pk])).status_code == 302
    assert not Attachment.objects.exists()
    assert TransitionLog.objects.filter(object_id=incident.pk, transition="attachment_removed").count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_stored_file_is_deleted_with_its_attachment(desk_user_tx):
    user, incident = desk_user_tx
    attachment = services.attachment_add(record=incident, upload=upload(), by=user)
    name = attachment.file.name
    assert default_storage.exists(name)
    services.attachment_delete(attachment=attachment, record=incident, by=user)
    assert not default_storage.exists(name)


@pytest.fixture
def desk_user_tx(transactional_db):
    return UserFactory(roles=[Role.SERVICE_DESK]), IncidentFactory()


def test_the_page_hides_the_upload_form_from_who_may_not_attach(client, incident, db):
    client.force_login(UserFactory(roles=[Role.API_READERS]))
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="attachments"' in page and 'type="file"' not in page


def test_the_media_url_serves_nothing(client, desk, incident):
    attachment = services.attachment_add(record=incident, upload=upload(), by=desk)
    client.force_login(desk)
    assert client.get(f"/media/{attachment.file.name}").status_code == 404
    assert client.get(f"/media-not-served/{attachment.file.name}").status_code == 404


# --- API ---------------------------------------------------------------------------------


def test_api_upload_list_download_and_delete(api_client, desk, incident):
    api = api_client(desk)
    created = api.post(f"/api/v1/incidents/{incident.pk}/attachments/", {"file": upload()}, format="multipart")
    assert created.status_code == 201
    body = created.json()
    assert (body["filename"], body["mime_type"], body["size"], body["uploaded_by"]) == \
        ("app.log", "text/plain", len(LOG), "desk")
    listed = api.get(f"/api/v1/incidents/{incident.pk}/attachments/").json()
    assert [row["id"] for row in listed] == [body["id"]]
    download = api.get(body["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == LOG
    assert download["Content-Disposition"] == 'attachment; filename="app.log"'
    assert api.get(f"/api/v1/attachments/{body['id']}/").json()["filename"] == "app.log"
    assert api.delete(f"/api/v1/attachments/{body['id']}/").status_code == 204
    assert not Attachment.objects.exists()


def test_api_refusals(api_client, desk, incident, confidential, outsider):
    bad = api_client(desk).post(f"/api/v1/incidents/{incident.pk}/attachments/",
                                {"file": upload("x.html", b"<b>")}, format="multipart")
    assert bad.status_code == 400 and "file" in bad.json()
    reader = api_client(UserFactory(roles=[Role.API_READERS]))
    assert reader.post(f"/api/v1/incidents/{incident.pk}/attachments/", {"file": upload()},
                       format="multipart").status_code == 403
    assert api_client(outsider).get(f"/api/v1/incidents/{confidential.pk}/attachments/").status_code == 404
    assert api_client(desk).get("/api/v1/changes/999999/attachments/").status_code == 404
    assert api_client().get(f"/api/v1/incidents/{incident.pk}/attachments/").status_code == 401


def test_admin_is_for_superusers_only(client, desk, incident):
    services.attachment_add(record=incident, upload=upload(), by=desk)
    manager = UserFactory(roles=[Role.INCIDENT_MANAGERS], is_staff=True)
    client.force_login(manager)
    assert client.get(reverse("admin:desk_attachment_changelist")).status_code == 403
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:desk_attachment_changelist"))
    assert page.status_code == 200 and "app.log" in page.content.decode()


def test_api_attachments_of_a_change(api_client, db):
    manager = UserFactory(roles=[Role.CHANGE_MANAGERS])
    change = ChangeRequestFactory()
    api = api_client(manager)
    created = api.post(f"/api/v1/changes/{change.pk}/attachments/",
                       {"file": upload("plan.pdf", b"%PDF-1.4\n", "application/pdf")}, format="multipart")
    assert created.status_code == 201 and created.json()["mime_type"] == "application/pdf"
    assert [row["filename"] for row in api.get(f"/api/v1/changes/{change.pk}/attachments/").json()] == ["plan.pdf"]
    desk = api_client(UserFactory(roles=[Role.SERVICE_DESK]))
    assert desk.get(f"/api/v1/changes/{change.pk}/attachments/").status_code == 200  # may see the change
    assert desk.delete(f"/api/v1/attachments/{created.json()['id']}/").status_code == 403
