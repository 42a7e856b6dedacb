"""Refusals of the ingest endpoint lose nothing and store nothing: 401, 400, 413, 429."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from knox.models import AuthToken

from alerts import services
from alerts.models import Alert, AlertGroup
from automation.models import AutomationRun
from incidents.models import Incident

from .conftest import T0, payload

pytestmark = pytest.mark.django_db


def nothing_stored() -> bool:
    return not (Alert.objects.exists() or AlertGroup.objects.exists() or Incident.objects.exists()
                or AutomationRun.objects.exists())


@pytest.fixture
def am(make_source, service):
    return make_source("alertmanager")


# --- 401 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Send the source's token as \"Authorization: Bearer <token>\"."),
        ("Token abc", "Send the source's token as \"Authorization: Bearer <token>\"."),
        ("Bearer", "The token is missing after \"Bearer\"."),
        ("Bearer a b", "Malformed Authorization header: \"Bearer <token>\", one token, no spaces."),
        ("Bearer wrong-token", "Unknown source or wrong token."),
    ],
)
def test_a_missing_or_wrong_token_is_401_and_stores_nothing(clock, am, send, header, detail):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = send("alertmanager", None, payload("alertmanager_v4_firing"), **extra)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == 'Bearer realm="opsdesk-alerts"'
    assert nothing_stored()


def test_the_token_of_another_source_or_an_unknown_slug_is_401(clock, am, make_source, send):
    _, grafana_token = make_source("grafana")
    assert send("alertmanager", grafana_token, payload("alertmanager_v4_firing")).status_code == 401
    _, token = am
    assert send("no-such-source", token, payload("alertmanager_v4_firing")).status_code == 401
    assert not Alert.objects.exists()


def test_a_users_api_token_does_not_open_the_ingest_endpoint(clock, am, send, incident_manager):
    _, key = AuthToken.objects.create(incident_manager)
    for header in (f"Token {key}", f"Bearer {key}"):
        response = send("alertmanager", None, payload("alertmanager_v4_firing"), HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
    assert nothing_stored()


def test_a_disabled_source_is_401(clock, am, send):
    source, token = am
    services.alert_source_update(source=source, by=None, enabled=False)
    response = send("alertmanager", token, payload("alertmanager_v4_firing"))
    assert (response.status_code, response.json()) == (401, {"detail": "The alert source 'alertmanager' is disabled."})
    assert nothing_stored()
    services.alert_source_update(source=source, by=None, enabled=True)
    assert send("alertmanager", token, payload("alertmanager_v4_firing")).status_code == 202


# --- 400 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b"{not json",
         {"body": ["Invalid JSON: Expecting property name enclosed in double quotes (line 1, column 2)."]}),
        (b"", {"body": ["The body is empty: send the alerts as JSON."]}),
        (b"[1, 2]", {"body": ["Send a JSON object with an \"alerts\" list."]}),
        (b'{"version": "4"}', {"alerts": ["Missing: the payload needs an \"alerts\" list."]}),
        (b'{"alerts": {}}', {"alerts": ["Must be a list of alerts."]}),
        (b'{"alerts": []}', {"alerts": ["The list is empty: there is no alert to take."]}),
        (json.dumps({**payload("alertmanager_v4_firing"), "version": "3"}).encode(),
         {"version": ["Only version 4 of the Alertmanager webhook is understood."]}),
    ],
)
def test_a_malformed_body_is_400_naming_the_bad_part(clock, am, send, body, errors):
    _, token = am
    response = send("alertmanager", token, body)
    assert response.status_code == 400
    assert response.json() == errors
    assert nothing_stored()


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("startsAt", "2026-03-02T09:00:00", "alerts[0].startsAt",
         "'2026-03-02T09:00:00' has no offset: add Z or +hh:mm."),
        ("startsAt", "yesterday", "alerts[0].startsAt", "'yesterday' is not an ISO 8601 time."),
        ("startsAt", "0001-01-01T00:00:00Z", "alerts[0].startsAt", "Missing: give an ISO 8601 time with an offset."),
        ("startsAt", "2026-03-02T09:00:00+15:00", "alerts[0].startsAt",
         "'2026-03-02T09:00:00+15:00' has an offset beyond ±14 h."),
        ("status", "pending", "alerts[0].status", "Must be \"firing\" or \"resolved\"."),
        ("labels", "alertname=x", "alerts[0].labels", "Must be an object of name → value."),
        ("endsAt", "2020-01-01T00:00:00Z", "alerts[0].endsAt", "Is before startsAt."),
    ],
)
def test_when_no_alert_can_be_read_it_is_400_naming_each(clock, am, send, field, value, path, message):
    _, token = am
    body = payload("alertmanager_v4_firing")
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0][field] = value
    response = send("alertmanager", token, body)
    assert response.status_code == 400
    assert response.json() == {path: [message]}
    assert nothing_stored()


def test_one_bad_alert_among_good_ones_is_answered_and_the_good_ones_taken(clock, am, send):
    """One unreadable alert does not lose the group's others: they are taken (202) and the bad one,
    stored nowhere, is named in ``rejected``."""
    _, token = am
    body = payload("alertmanager_v4_firing")
    body["alerts"][1]["startsAt"] = "not a time"
    response = send("alertmanager", token, body)
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert response.json() == {
        "incidents": [incident.number],
        "alerts": 1,
        "rejected": [{"index": 1, "fingerprint": "5d3e4f41b2a1c0aa",
                      "errors": {"alerts[1].startsAt": "'not a time' is not an ISO 8601 time."}}],
    }
    assert list(Alert.objects.values_list("fingerprint", flat=True)) == ["1a30ba71cca2921f"]


# --- 413 ---------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_in_json_and_stores_nothing(clock, am, send, settings):
    _, token = am
    settings.OPSDESK_ALERT_MAX_BODY_BYTES = 1000
    body = payload("alertmanager_v4_firing")
    assert len(json.dumps(body)) > 1000
    response = send("alertmanager", token, body)
    assert response.status_code == 413
    assert response.json() == {"detail": "The body is larger than 1000 bytes: send fewer alerts per request."}
    assert nothing_stored()
    settings.OPSDESK_ALERT_MAX_BODY_BYTES = 100_000
    assert send("alertmanager", token, body).status_code == 202


# --- 429 ---------------------------------------------------------------------------------------


def test_past_the_rate_limit_it_is_429_with_retry_after_until_the_next_minute(clock, service, make_source, send):
    _, token = make_source("alertmanager", rate_limit_per_minute=2)
    clock.move_to(T0 + timedelta(seconds=15))
    assert send("alertmanager", token, payload("alertmanager_v4_firing")).status_code == 202
    assert send("alertmanager", token, payload("alertmanager_v4_firing")).status_code == 202
    alerts_before = list(Alert.objects.values_list("pk", "last_seen"))
    refused = send("alertmanager", token, payload("alertmanager_v4_resolved"))
    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"
    assert list(Alert.objects.values_list("pk", "last_seen")) == alerts_before
    assert Incident.objects.get().state == "detected"  # the refused resolution did nothing
    clock.move_to(T0 + timedelta(minutes=1))
    assert send("alertmanager", token, payload("alertmanager_v4_resolved")).status_code == 202
    assert Incident.objects.get().state == "resolved"


def test_the_rate_limit_is_per_source(clock, service, make_source, send):
    _, am_token = make_source("alertmanager", rate_limit_per_minute=1)
    _, generic_token = make_source("generic", rate_limit_per_minute=1)
    assert send("alertmanager", am_token, payload("alertmanager_v4_firing")).status_code == 202
    assert send("alertmanager", am_token, payload("alertmanager_v4_firing")).status_code == 429
    assert send("generic", generic_token, payload("generic")).status_code == 202
