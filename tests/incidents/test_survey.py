"""The satisfaction survey (§5): one email on the first resolution, a signed expiring link without login,
one answer, a clear page for every bad link, the answer on the incident page and in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse

from incidents import services, survey
from incidents.models import SatisfactionSurvey, SurveyAnswer
from opsdesk.models import Notification
from tests.factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def resolve(incident, by):
    return services.incident_transition(instance=incident, name="resolve", by=by, resolution_summary="Fixed")


def survey_mail(recipient=None):
    rows = Notification.objects.filter(subject__startswith="[OpsDesk] How did we do with")
    return rows.filter(recipient=recipient) if recipient else rows


def link_of(row) -> str:
    return next(line for line in row.body.splitlines() if "/survey/" in line).split("8000", 1)[-1].strip()


@pytest.fixture
def incident(service, desk):
    return IncidentFactory(service=service, caller_email="caller@example.test", caller_name="Cleo Caller")


def test_resolving_emails_the_caller_once_with_a_link(incident, desk, manager):
    resolve(incident, desk)
    [row] = survey_mail()
    assert row.recipient == "caller@example.test"
    assert "/survey/" in row.body and incident.number in row.subject
    assert SatisfactionSurvey.objects.get().incident == incident
    # reopened and resolved again: no second survey
    services.incident_transition(instance=incident, name="reopen", by=manager, comment="back")
    resolve(incident, desk)
    assert survey_mail().count() == 1


def test_without_a_caller_the_reporter_gets_it_and_confidential_ones_only_the_reporter(service, desk, manager):
    reporter = UserFactory(email="rep@example.test")
    plain = IncidentFactory(service=service, reporter=reporter)
    resolve(plain, desk)
    assert survey_mail("rep@example.test").count() == 1
    secret = IncidentFactory(service=service, reporter=reporter, confidential=True, caller_email="out@example.test",
                             title="Breach of payroll")
    resolve(secret, manager)
    [row] = survey_mail().filter(object_id=secret.pk)
    assert row.recipient == "rep@example.test" and "payroll" not in row.body


def test_nobody_to_ask_writes_no_survey(service, desk):
    incident = IncidentFactory(service=service, reporter=None)
    resolve(incident, desk)
    assert not SatisfactionSurvey.objects.exists() and not survey_mail().exists()


def test_the_link_needs_no_login_and_takes_one_answer(client, incident, desk):
    resolve(incident, desk)
    url = link_of(survey_mail().get())
    page = client.get(url)
    assert page.status_code == 200 and incident.number in page.content.decode()
    answered = client.post(url, {"rating": "4", "comment": "Quick and kind."})
    assert answered.status_code == 200 and "has been recorded" in answered.content.decode()
    answer = SurveyAnswer.objects.get()
    assert (answer.rating, answer.comment, answer.survey.incident) == (4, "Quick and kind.", incident)
    again = client.post(url, {"rating": "1"})
    assert again.status_code == 409 and "answered already" in again.content.decode()
    assert SurveyAnswer.objects.get().rating == 4
    assert "answered already" in client.get(url).content.decode()


@pytest.mark.parametrize("rating", ["", "0", "6", "five"])
def test_a_rating_outside_1_to_5_is_a_form_error(client, incident, desk, rating):
    resolve(incident, desk)
    response = client.post(link_of(survey_mail().get()), {"rating": rating})
    assert response.status_code == 400 and not SurveyAnswer.objects.exists()


def test_the_service_refuses_a_second_answer_and_bad_ratings(incident, desk):
    resolve(incident, desk)
    record = SatisfactionSurvey.objects.get()
    survey.survey_answer(survey=record, rating=5)
    with pytest.raises(survey.SurveyAlreadyAnswered):
        survey.survey_answer(survey=record, rating=3)
    with pytest.raises(services.DomainValidationError):
        survey.survey_answer(survey=record, rating=9)
    assert SurveyAnswer.objects.get().rating == 5


def test_bad_tampered_expired_and_vanished_links_get_a_clear_page(client, incident, desk, settings):
    settings.OPSDESK_SURVEY_MAX_AGE_DAYS = 14
    with time_machine.travel("2026-11-02 10:00Z", tick=False):
        resolve(incident, desk)
        url = link_of(survey_mail().get())
    token = url.rstrip("/").rsplit("/", 1)[-1]
    with time_machine.travel("2026-11-15 10:00Z", tick=False):
        assert client.get(url).status_code == 200  # 13 days: still open
        tampered = client.get(reverse("survey", args=[token[:-2] + ("AA" if token[-2:] != "AA" else "BB")]))
        assert tampered.status_code == 400 and "not valid" in tampered.content.decode()
        assert client.get(reverse("survey", args=["nonsense"])).status_code == 400
        foreign = signing.dumps({"survey": SatisfactionSurvey.objects.get().pk}, salt="another.salt")
        assert client.get(reverse("survey", args=[foreign])).status_code == 400
    with time_machine.travel("2026-11-16 10:01Z", tick=False):
        expired = client.get(url)
        assert expired.status_code == 410 and "expired" in expired.content.decode()
        assert client.post(url, {"rating": "5"}).status_code == 410
        assert not SurveyAnswer.objects.exists()
    with time_machine.travel("2026-11-03 10:00Z", tick=False):
        SatisfactionSurvey.objects.all().delete()
        assert client.get(url).status_code == 404


def test_the_answer_shows_on_the_incident_page_and_in_the_admin(client, incident, desk, user_in_role):
    resolve(incident, desk)
    survey.survey_answer(survey=SatisfactionSurvey.objects.get(), rating=2, comment="Slow <b>reply</b>")
    client.force_login(desk)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert 'id="survey-rating">2/5' in page and "Slow &lt;b&gt;reply&lt;/b&gt;" in page
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    listing = client.get(reverse("admin:incidents_satisfactionsurvey_changelist"))
    assert listing.status_code == 200 and "2/5" in listing.content.decode()
    assert client.get(reverse("admin:incidents_satisfactionsurvey_add")).status_code == 403


def test_a_confidential_incidents_survey_is_hidden_in_the_admin_from_who_may_not_see_it(service, manager, client):
    from django.contrib.auth.models import Permission

    secret = IncidentFactory(service=service, confidential=True)
    resolve(secret, manager)
    assert SatisfactionSurvey.objects.filter(incident=secret).exists()
    outsider = UserFactory(is_staff=True)
    outsider.user_permissions.add(Permission.objects.get(codename="view_satisfactionsurvey"))
    client.force_login(outsider)
    listing = client.get(reverse("admin:incidents_satisfactionsurvey_changelist")).content.decode()
    assert secret.number not in listing


def test_no_survey_while_notifications_are_muted(incident, desk):
    from opsdesk.notifications import muted

    with muted():
        resolve(incident, desk)
    assert not SatisfactionSurvey.objects.exists()


def test_the_link_expires_after_the_setting(incident, desk, settings, client):
    settings.OPSDESK_SURVEY_MAX_AGE_DAYS = 1
    with time_machine.travel("2026-11-02 10:00Z", tick=False):
        resolve(incident, desk)
        url = link_of(survey_mail().get())
    with time_machine.travel("2026-11-02 10:00Z", tick=False) as traveller:
        traveller.shift(timedelta(hours=25))
        assert client.get(url).status_code == 410
