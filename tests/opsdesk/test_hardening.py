"""Hostile input and failing infrastructure get clear answers (§7), never a 500: datetimes without
offset or out of range (400, field named), an oversized body (413 JSON), an unreachable
database (503 + Retry-After), and the settings operators rely on (CONN_MAX_AGE, /healthz)."""

from __future__ import annotations

import json
import secrets
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

from opsdesk.choices import Role
from tests.factories import ServiceFactory

from .test_settings import _run

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


@pytest.fixture
def desk(user_in_role):
    return user_in_role(Role.SERVICE_DESK)


# --- datetimes --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00Z",  # was an OverflowError (500)
    "0001-01-01T00:00:00-23:59",
    "2026-03-01T09:00:00",  # no offset: was silently taken as UTC
    "2026-03-01T09:00:00+18:10",  # offset beyond ±14 h
    "yesterday",
])
def test_create_with_a_bad_detected_at_is_400_naming_the_field(api_client, desk, value):
    service = ServiceFactory()
    response = api_client(desk).post(
        INCIDENTS, {"title": "x", "service": service.pk, "severity": "low", "detected_at": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "detected_at" in response.json()


def test_create_with_an_offset_is_201(api_client, desk):
    service = ServiceFactory()
    response = api_client(desk).post(INCIDENTS, {
        "title": "x", "service": service.pk, "severity": "low", "detected_at": "2020-03-01T10:00:00+01:00",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["detected_at"] == "2020-03-01T09:00:00Z"


@pytest.mark.parametrize(("url", "field"), [
    ("/api/v1/changes/?planned_before=2171-11-29T17:07:33%2B18:10", "planned_before"),  # was a DataError
    ("/api/v1/changes/?planned_after=2026-03-01T09:00:00", "planned_after"),
    ("/api/v1/incidents/?detected_after=2026-03-01T09:00:00", "detected_after"),
    ("/api/v1/incidents/?detected_before=0001-01-01T00:00:00-23:59", "detected_before"),
    ("/api/v1/automation/runs/?created_after=2026-03-01", "created_after"),
])
def test_filters_refuse_times_without_offset_or_out_of_range(api_client, user_in_role, url, field):
    response = api_client(user_in_role(Role.API_READERS)).get(url)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_filters_with_an_offset_work(api_client, user_in_role):
    response = api_client(user_in_role(Role.API_READERS)).get(
        "/api/v1/changes/?planned_before=2171-11-29T17:07:33%2B08:10"
    )
    assert response.status_code == 200


def test_the_pages_filter_bars_take_local_times(client, user_in_role):
    client.force_login(user_in_role(Role.CHANGE_MANAGERS))
    assert client.get("/changes/?planned_after=2026-03-01T09:00").status_code == 200
    assert client.get("/incidents/?detected_after=2026-03-01T09:00").status_code == 200


# --- body size --------------------------------------------------------------------------------


def test_a_5_mb_body_is_413_in_json(desk):
    client = Client()
    client.force_login(desk)
    body = json.dumps({"title": "x" * (5 * 1024 * 1024)})
    response = client.post(INCIDENTS, body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "limit" in response.json()["detail"]


# --- database down ----------------------------------------------------------------------------


@pytest.fixture
def database_down():
    """Every new cursor fails as with the server gone (connection refused)."""

    def refuse(self):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection", refuse):
        yield


def test_database_down_token_api_is_503_in_json(database_down):
    response = Client(raise_request_exception=False).get("/api/v1/incidents/", HTTP_AUTHORIZATION="Token abc")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "application/json"


def test_database_down_logged_in_page_and_login_post_are_503(desk):
    client = Client(raise_request_exception=False)
    client.force_login(desk)
    with mock.patch.object(BaseDatabaseWrapper, "ensure_connection",
                           side_effect=OperationalError("server closed the connection")):
        page = client.get("/incidents/")
        api = client.get("/api/v1/incidents/")
        login = Client(raise_request_exception=False).post("/login/", {"username": "desk", "password": "pw"})
    assert (page.status_code, api.status_code, login.status_code) == (503, 503, 503)
    assert api.json()["detail"].startswith("The database is unreachable")
    assert all(r["Retry-After"] == "30" for r in (page, api, login))
    assert b"unavailable" in page.content
    assert b"Traceback" not in page.content


def test_healthz_is_503_when_the_database_is_down(database_down):
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")


# --- settings ---------------------------------------------------------------------------------

PROD = {"OPSDESK_ENV": "production", "DJANGO_SETTINGS_MODULE": "opsdesk.settings.production",
        "ALLOWED_HOSTS": "opsdesk.example.org,testserver"}


def test_conn_max_age_from_the_environment_reaches_the_database_settings():
    probe = "import django, json; django.setup(); from django.conf import settings; " \
            "print(json.dumps(settings.DATABASES['default']['CONN_MAX_AGE']))"
    local = "opsdesk.settings.local"
    assert _run(["-c", probe], DJANGO_SETTINGS_MODULE=local, CONN_MAX_AGE="45").stdout.strip() == "45"
    assert _run(["-c", probe], DJANGO_SETTINGS_MODULE=local).stdout.strip() == "0"
    assert _run(["-c", probe], SECRET_KEY=secrets.token_urlsafe(60), **PROD).stdout.strip() == "60"


def test_healthz_over_plain_http_is_not_redirected_in_production():
    probe = ("import django; django.setup(); from django.test import Client; c = Client(); "
             "print(c.get('/healthz').status_code, c.get('/login/').status_code)")
    result = _run(["-c", probe], SECRET_KEY=secrets.token_urlsafe(60), **PROD)
    codes = result.stdout.strip().splitlines()[-1].split()
    assert codes[0] in ("200", "503"), result.stderr
    assert codes[1] == "301"  # everything else still goes to https


# --- schema agreements ------------------------------------------------------------------------


def test_cancel_reason_is_null_until_cancelled(api_client, desk, user_in_role):
    service = ServiceFactory()
    created = api_client(desk).post(INCIDENTS, {"title": "x", "service": service.pk, "severity": "low"}, format="json")
    assert created.json()["cancel_reason"] is None  # was "", outside the enum
    manager = user_in_role(Role.INCIDENT_MANAGERS)
    cancelled = api_client(manager).post(f"{INCIDENTS}{created.json()['id']}/cancel/",
                                         {"reason": "duplicate"}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["cancel_reason"] == "duplicate"
