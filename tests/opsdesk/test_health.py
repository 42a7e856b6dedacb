"""GET /healthz: 200 with the state of the database and the broker, 503 when either is down."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from opsdesk import views

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_when_database_and_broker_are_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_needs_no_login(client):
    assert client.get("/healthz").status_code == 200


def test_healthz_answers_503_when_the_broker_is_down(client, celery_broker):
    celery_broker("redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error: ")


class _BrokenConnection:
    def cursor(self):
        raise OperationalError("could not connect to server")


def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    monkeypatch.setattr(views, "connection", _BrokenConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "error: OperationalError", "broker": "ok"}
