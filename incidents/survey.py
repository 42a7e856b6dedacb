"""The satisfaction survey (§5): sent once when an incident is first resolved, answered once.

The link carries a signed token (``django.core.signing``, salted) that names the
survey and expires after ``OPSDESK_SURVEY_MAX_AGE_DAYS``; the page needs no login.
The one-to-one key of ``SurveyAnswer`` is the guard against a second answer,
including two submits racing each other: one insert wins, the other is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from opsdesk.exceptions import DomainValidationError, OpsDeskError
from opsdesk.notifications import email, is_muted, notify

from .models import Incident, SatisfactionSurvey, SurveyAnswer

SALT = "incidents.survey"
RATINGS = (1, 2, 3, 4, 5)


class SurveyLinkInvalid(OpsDeskError):
    """The token was not made by OpsDesk (mistyped, cut short or tampered with): 400."""


class SurveyLinkExpired(OpsDeskError):
    """The token is genuine but older than the survey's lifetime: 410."""


class SurveyNotFound(OpsDeskError):
    """The token is genuine but its survey no longer exists (the incident was deleted): 404."""


class SurveyAlreadyAnswered(OpsDeskError):
    """The survey has its answer already: 409, shown as a polite thank-you."""


def max_age() -> timedelta:
    return timedelta(days=settings.OPSDESK_SURVEY_MAX_AGE_DAYS)


def survey_token(survey: SatisfactionSurvey) -> str:
    """The signed token of the survey's link (its timestamp is now: the link expires from now)."""
    return signing.dumps({"survey": survey.pk}, salt=SALT, compress=True)


def survey_url(survey: SatisfactionSurvey) -> str:
    return settings.OPSDESK_BASE_URL.rstrip("/") + reverse("survey", args=[survey_token(survey)])


def survey_from_token(token: str) -> SatisfactionSurvey:
    """The survey a token names; raises ``SurveyLinkInvalid``, ``SurveyLinkExpired`` or ``SurveyNotFound``."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired as exc:
        raise SurveyLinkExpired("This survey link has expired.") from exc
    except signing.BadSignature as exc:
        raise SurveyLinkInvalid("This survey link is not valid.") from exc
    survey_id = payload.get("survey") if isinstance(payload, dict) else None
    if not isinstance(survey_id, int):
        raise SurveyLinkInvalid("This survey link is not valid.")
    try:
        return SatisfactionSurvey.objects.select_related("incident", "answer").get(pk=survey_id)
    except SatisfactionSurvey.DoesNotExist as exc:
        raise SurveyNotFound("This survey no longer exists.") from exc


def survey_recipient(incident: Incident) -> str:
    """The caller's address, else the reporter's; a confidential incident's survey goes to its reporter only
    (§6: its notifications reach nobody outside Incident Managers, its team and its reporter)."""
    reporter = incident.reporter
    reporter_email = reporter.email if reporter is not None and reporter.is_active else ""
    if incident.confidential:
        return reporter_email
    return incident.caller_email or reporter_email


def _survey_text(incident: Incident, url: str) -> tuple[str, str]:
    name = incident.number if incident.confidential else f"{incident.number}: {incident.title}"
    subject = f"[OpsDesk] How did we do with {incident.number}? A one-minute survey"
    body = (
        f"Your incident {name} has been resolved.\n\n"
        "Please tell us how satisfied you are with how it was handled: a rating from 1 to 5 "
        "and, if you like, a comment. It takes a minute and needs no login.\n\n"
        f"{url}\n\n"
        f"The link works once and expires in {settings.OPSDESK_SURVEY_MAX_AGE_DAYS} days.\n"
    )
    return subject, body


def send_survey(*, incident: Incident, at: datetime | None = None) -> SatisfactionSurvey | None:
    """Write the incident's survey and its email to the outbox, once per incident (the first resolution).

    Called inside the resolve transaction; nothing is written when the incident has a survey already or
    nobody to send it to. Returns the new survey, else None.
    """
    if is_muted():
        return None
    address = survey_recipient(incident)
    if not address or SatisfactionSurvey.objects.filter(incident=incident).exists():
        return None
    try:
        with transaction.atomic():
            survey = SatisfactionSurvey.objects.create(
                incident=incident, recipient=address, sent_at=at or timezone.now()
            )
    except IntegrityError:  # a concurrent resolve wrote it first
        return None
    subject, body = _survey_text(incident, survey_url(survey))
    notify(recipients=[email(address)], subject=subject, body=body, dedupe_key=f"survey:{survey.pk}", about=incident)
    return survey


def survey_answer(*, survey: SatisfactionSurvey, rating, comment: str = "") -> SurveyAnswer:
    """Record the survey's one answer: a rating 1–5 and an optional comment (≤ 2000 characters).

    Raises ``DomainValidationError`` for bad input and ``SurveyAlreadyAnswered`` when an answer exists
    (also when another submit won a race: the one-to-one key refuses the second insert).
    """
    errors = {}
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = None
    if rating not in RATINGS:
        errors["rating"] = "Choose a rating from 1 (very unsatisfied) to 5 (very satisfied)."
    comment = (comment or "").strip()
    if len(comment) > 2000:
        errors["comment"] = "Keep the comment to 2000 characters."
    if errors:
        raise DomainValidationError(errors)
    try:
        with transaction.atomic():
            return SurveyAnswer.objects.create(survey=survey, rating=rating, comment=comment)
    except IntegrityError as exc:
        raise SurveyAlreadyAnswered("This survey has been answered already. Thank you!") from exc
