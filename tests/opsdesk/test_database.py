"""In CI (OPSDESK_REQUIRE_SERVICES=1) the suite really runs on PostgreSQL."""

import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_ci_runs_the_suite_on_postgresql():
    if os.environ.get("OPSDESK_REQUIRE_SERVICES") != "1":
        pytest.skip("only enforced in CI (OPSDESK_REQUIRE_SERVICES=1)")
    assert connection.vendor == "postgresql", f"CI must run on PostgreSQL, not {connection.vendor}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 13
