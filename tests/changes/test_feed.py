"""The iCalendar feed (§3.1): tokens (hashed, revocable), the two endpoints, SEQUENCE, confidentiality."""

from __future__ import annotations

import hashlib
from datetime import UTC

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from icalendar import Calendar

from changes import services
from changes.models import CalendarFeedToken, ChangeFreeze
from opsdesk.choices import Role
from opsdesk.exceptions import TransitionNotAllowed
from tests.factories import IncidentFactory

FEED = "/changes/calendar.ics"
API_FEED = "/api/v1/changes/calendar.ics"


def parse(response) -> Calendar:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, object]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def token(change_manager):
    return services.feed_token_issue(user=change_manager, by=change_manager, name="Outlook")


def test_issue_stores_only_a_hash_and_the_plain_token_once(token, change_manager):
    row, plain = token
    assert row.key_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in {row.key_hash, row.prefix} and plain.startswith(row.prefix)
    assert not CalendarFeedToken.objects.filter(key_hash=plain).exists()


def test_only_for_yourself_and_only_with_change_view(change_manager, user_in_role, db):
    other = user_in_role(Role.TECH_LEADS)
    with pytest.raises(PermissionDenied):
        services.feed_token_issue(user=other, by=change_manager)
    nobody = user_in_role()
    with pytest.raises(PermissionDenied):
        services.feed_token_issue(user=nobody, by=nobody)


def test_feed_has_one_event_per_planned_open_change_and_freeze(client, token, make_change, submitted_change,
                                                               approved_change, window):
    start, end = window
    draft = make_change()
    submitted = submitted_change(title="Kernel upgrade")
    approved = approved_change(planned_start=start, planned_end=end)
    freeze = ChangeFreeze.objects.create(name="Peak", start=start, end=end)
    calendar = parse(client.get(FEED, {"token": token[1]}))
    found = events(calendar)
    assert set(found) == {f"{submitted.number}@opsdesk", f"{approved.number}@opsdesk", f"freeze-{freeze.pk}@opsdesk"}
    assert draft.number not in str(calendar.to_ical())
    event = found[f"{submitted.number}@opsdesk"]
    assert str(event["SUMMARY"]) == f"{submitted.number} Kernel upgrade"
    assert str(event["STATUS"]) == "TENTATIVE"
    assert str(found[f"{approved.number}@opsdesk"]["STATUS"]) == "CONFIRMED"
    # iCalendar has whole seconds; UTC (a trailing Z).
    assert event.decoded("DTSTART") == submitted.planned_start.astimezone(UTC).replace(microsecond=0)
    assert event["DTSTART"].to_ical().endswith(b"Z")
    assert event.decoded("DTEND") == submitted.planned_end.replace(microsecond=0)
    assert str(event["URL"]).endswith(reverse("changes:detail", args=[submitted.pk]))
    assert event["CATEGORIES"].cats == ["Normal"]
    assert "DTSTAMP" in event
    assert str(calendar["VERSION"]) == "2.0" and "PRODID" in calendar


def test_sequence_grows_with_every_edit(client, token, submitted_change, board, change_manager):
    change = submitted_change()

    def sequence():
        return int(events(parse(client.get(FEED, {"token": token[1]})))[f"{change.number}@opsdesk"]["SEQUENCE"])

    first = sequence()
    for member in board.values():
        services.change_approve(change=change, by=member)
    second = sequence()
    assert second > first
    services.change_transition(instance=change, name="start", by=change_manager)
    assert sequence() > second


def test_revoked_unknown_or_missing_token_is_403(client, token, change_manager):
    row, plain = token
    assert client.get(FEED).status_code == 403
    assert client.get(FEED, {"token": "nope"}).status_code == 403
    services.feed_token_revoke(token=row, by=change_manager)
    assert client.get(FEED, {"token": plain}).status_code == 403
    with pytest.raises(TransitionNotAllowed):
        services.feed_token_revoke(token=row, by=change_manager)
    change_manager.is_active = False
    change_manager.save()
    fresh = CalendarFeedToken.objects.create(user=change_manager, name="x", key_hash=hashlib.sha256(b"k").hexdigest())
    assert fresh.active and client.get(FEED, {"token": "k"}).status_code == 403


def test_only_the_owner_revokes(token, user_in_role):
    with pytest.raises(PermissionDenied):
        services.feed_token_revoke(token=token[0], by=user_in_role(Role.CHANGE_MANAGERS))


def test_feed_never_names_a_confidential_incident(client, token, make_change, change_manager):
    secret = IncidentFactory(confidential=True)
    public = IncidentFactory()
    change = make_change(title=f"Fix {secret.number}", description=f"After {secret.number} and {public.number}.")
    change.incidents.set([secret, public])
    services.change_transition(instance=change, name="submit", by=change_manager)
    body = client.get(FEED, {"token": token[1]}).content.decode()
    parse(client.get(FEED, {"token": token[1]}))
    assert secret.number not in body.replace("\r\n ", "")
    assert public.number in body.replace("\r\n ", "")
    assert "confidential incident" in body.replace("\r\n ", "")


def test_api_feed_with_api_auth(api_client, change_manager, submitted_change, user_in_role):
    change = submitted_change()
    response = api_client(change_manager).get(API_FEED, HTTP_ACCEPT="text/calendar")
    assert f"{change.number}@opsdesk" in events(parse(response))
    assert api_client().get(API_FEED).status_code == 401
    assert api_client(user_in_role()).get(API_FEED).status_code == 403


def test_calendar_page_issues_shows_once_and_revokes(client, change_manager):
    client.force_login(change_manager)
    response = client.post(reverse("changes:feed-token-issue"), {"name": "Phone"})
    assert response.status_code == 302
    page = client.get(reverse("changes:calendar")).content.decode()
    row = CalendarFeedToken.objects.get(user=change_manager)
    assert 'id="new-feed-url"' in page and f"calendar.ics?token={row.prefix}" in page
    assert 'id="new-feed-url"' not in client.get(reverse("changes:calendar")).content.decode()  # shown once
    assert client.post(reverse("changes:feed-token-revoke", args=[row.pk])).status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_someone_elses_token_cannot_be_revoked_from_the_page(client, token, user_in_role):
    client.force_login(user_in_role(Role.CHANGE_MANAGERS))
    assert client.post(reverse("changes:feed-token-revoke", args=[token[0].pk])).status_code == 404
