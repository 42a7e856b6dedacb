"""The weekly report: to the managers, once per ISO week, figures only."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from metrics.report import weekly_report_text
from metrics.services import report_recipients, send_weekly_report
from metrics.tasks import weekly_report
from opsdesk.choices import Role
from opsdesk.models import Notification

from .conftest import at

pytestmark = pytest.mark.django_db

MONDAY_MORNING = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)


@pytest.fixture
def managers(user_in_role):
    return [
        user_in_role(Role.INCIDENT_MANAGERS, email="im@example.test"),
        user_in_role(Role.CHANGE_MANAGERS, email="cm@example.test"),
        user_in_role(Role.RELEASE_MANAGERS, Role.INCIDENT_MANAGERS, email="rm@example.test"),
    ]


def test_recipients_are_active_managers_only(managers, user_in_role):
    user_in_role(Role.INCIDENT_MANAGERS, email="gone@example.test", is_active=False)
    user_in_role(Role.API_READERS, email="reader@example.test")
    user_in_role(Role.SERVICE_DESK, email="desk@example.test")
    assert report_recipients() == ["cm@example.test", "im@example.test", "rm@example.test"]


def test_report_compares_the_last_7_days_with_the_week_before(build):
    build.resolved(detected_at=at(25, 9), resolved_at=at(25, 10))  # this week
    build.resolved(detected_at=at(26, 9), resolved_at=at(26, 12))
    build.resolved(detected_at=at(18, 9), resolved_at=at(18, 11))  # the week before
    secret = build.incident(detected_at=at(27, 9), confidential=True)
    subject, body = weekly_report_text(today=date(2026, 11, 30))
    assert subject == "OpsDesk weekly metrics 2026-W49: 23 Nov – 29 Nov 2026"
    assert "2026-11-23 – 2026-11-29" in body and "2026-11-16 – 2026-11-22" in body
    mttr = next(line for line in body.splitlines() if "Mean time to resolve" in line)
    assert "2 h" in mttr and "before: 2 h" in mttr and "no change" in mttr
    count = next(line for line in body.splitlines() if line.strip().startswith("Incidents  "))
    assert "3" in count and "before: 1" in count and "▲ +200.0 %" in count
    assert secret.title not in body and secret.number not in body
    assert "/metrics/?from=2026-11-23&to=2026-11-30" in body


def test_the_task_emails_every_manager_once_per_iso_week(managers, django_capture_on_commit_callbacks):
    with time_machine.travel(MONDAY_MORNING, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert weekly_report() == 3
        with django_capture_on_commit_callbacks(execute=True):
            assert weekly_report() == 0  # a second run in the same week writes nothing
    rows = Notification.objects.all()
    assert sorted(rows.values_list("recipient", flat=True)) == ["cm@example.test", "im@example.test", "rm@example.test"]
    assert {r.dedupe_key.split("|")[0] for r in rows} == {"metrics:weekly-report:2026-W49"}
    assert len(mail.outbox) == 3
    assert mail.outbox[0].subject.startswith("OpsDesk weekly metrics 2026-W49")
    with time_machine.travel(datetime(2026, 12, 7, 7, 30, tzinfo=UTC), tick=False):
        with transaction.atomic():
            assert send_weekly_report() == 3  # the next week: a new report
