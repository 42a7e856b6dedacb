"""Settings come from the environment: embedded defaults, real services, a production that refuses to start bare."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from opsdesk.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "broker": settings.CELERY_BROKER_URL, "celery_broker": app.conf.broker_url,
    "debug": settings.DEBUG, "ttl_days": settings.REST_KNOX["TOKEN_TTL"].days,
    "time_zone": settings.TIME_ZONE,
}))
"""


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: none of OpsDesk's variables, plus ``extra``."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**keep, **extra}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=_clean_env(**env), capture_output=True, text=True, timeout=120
    )


def _probe(**env: str) -> dict:
    env.setdefault("DJANGO_SETTINGS_MODULE", f"opsdesk.settings.{env.get('OPSDESK_ENV', 'local')}")
    result = _run(["-c", PROBE], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_nothing_set_means_sqlite_in_the_project_and_the_filesystem_broker():
    settings = _probe()
    assert settings["engine"] == "django.db.backends.sqlite3"
    assert settings["name"] == str(BASE_DIR / "db.sqlite3")
    assert settings["broker"] == "filesystem://"
    assert settings["celery_broker"] == "filesystem://"
    assert settings["debug"] is True
    assert settings["ttl_days"] == 90
    assert settings["time_zone"] == "UTC"


def test_database_url_and_broker_url_switch_to_postgresql_and_redis():
    settings = _probe(
        DATABASE_URL="postgres://ops:pw@db.internal:5432/opsdesk",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
        API_TOKEN_TTL_DAYS="30",
        TIME_ZONE="Europe/Berlin",
    )
    assert settings["engine"] == "django.db.backends.postgresql"
    assert settings["name"] == "opsdesk"
    assert settings["host"] == "db.internal"
    assert settings["broker"] == "redis://cache.internal:6379/0"
    assert settings["celery_broker"] == "redis://cache.internal:6379/0"
    assert settings["ttl_days"] == 30
    assert settings["time_zone"] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "opsdesk.example.org"}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": "opsdesk.example.org", "SECRET_KEY": "too-short"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": secrets.token_urlsafe(60)}, "ALLOWED_HOSTS must name"),
    ],
)
def test_production_refuses_to_start_without_secret_key_or_allowed_hosts(env, message):
    result = _run(["manage.py", "check"], OPSDESK_ENV="production", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_with_its_settings_passes_the_deployment_checklist_without_warnings(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        OPSDESK_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="opsdesk.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    settings = _probe(
        OPSDESK_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="opsdesk.example.org",
    )
    assert settings["debug"] is False
