"""Daily snapshots: the service, the nightly task, the backfill command and the demo seed."""

import random
import re
from datetime import UTC, date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test.utils import override_settings

from metrics import demo
from metrics.definitions import compute
from metrics.models import MetricSnapshot
from metrics.services import snapshot_day
from metrics.tasks import snapshot_yesterday

from .conftest import at

pytestmark = pytest.mark.django_db


def test_snapshot_day_stores_the_days_figures(build):
    build.resolved(detected_at=at(10, 9), resolved_at=at(10, 10))
    build.incident(detected_at=at(11, 0))  # the next day: not in the snapshot
    snapshot = snapshot_day(day=date(2026, 11, 10))
    assert snapshot.data == compute(date(2026, 11, 10), date(2026, 11, 11))
    assert snapshot.data["incidents"]["count"] == 1
    assert snapshot.data["incidents"]["mttr_seconds"] == 3600.0
    assert snapshot.data["period"] == {"from": "2026-11-10", "to": "2026-11-11"}


def test_running_it_again_replaces_the_snapshot(build):
    snapshot_day(day=date(2026, 11, 10))
    build.incident(detected_at=at(10, 12))
    snapshot_day(day=date(2026, 11, 10))
    assert MetricSnapshot.objects.count() == 1
    assert MetricSnapshot.objects.get().data["incidents"]["count"] == 1


@override_settings(TIME_ZONE="Europe/Berlin")
def test_the_nightly_task_snapshots_yesterday_in_the_site_time_zone(build):
    berlin = ZoneInfo("Europe/Berlin")
    build.incident(detected_at=datetime(2026, 11, 27, 23, 30, tzinfo=berlin))  # 22:30 UTC on the 27th
    # 00:15 in Berlin on the 28th is still the 27th in UTC.
    with time_machine.travel(datetime(2026, 11, 28, 0, 15, tzinfo=berlin), tick=False):
        assert snapshot_yesterday.delay().get() == "2026-11-27"
        snapshot_yesterday()
    snapshot = MetricSnapshot.objects.get()
    assert snapshot.date == date(2026, 11, 27)
    assert snapshot.data["incidents"]["count"] == 1


def test_backfill_command_shows_progress_and_is_idempotent(build):
    build.incident(detected_at=at(2, 5))
    out = StringIO()
    with time_machine.travel(datetime(2026, 11, 20, 3, tzinfo=UTC), tick=False):
        call_command("backfill_metrics", "--from", "2026-11-01", "--to", "2026-11-04", stdout=out)
        call_command("backfill_metrics", "--from", "2026-11-01", "--to", "2026-11-04", stdout=StringIO())
    lines = out.getvalue().splitlines()
    assert lines[0] == "[" + "#" * 10 + " " * 20 + "] 1/3 2026-11-01"
    assert lines[2] == "[" + "#" * 30 + "] 3/3 2026-11-03"
    assert "3 snapshot(s) stored" in lines[3]
    assert list(MetricSnapshot.objects.order_by("date").values_list("date", flat=True)) == [
        date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
    ]
    assert MetricSnapshot.objects.get(date=date(2026, 11, 2)).data["incidents"]["count"] == 1


def test_backfill_defaults_to_yesterday_as_last_day():
    with time_machine.travel(datetime(2026, 11, 20, 3, tzinfo=UTC), tick=False):
        call_command("backfill_metrics", "--from", "2026-11-18", stdout=StringIO())
    assert sorted(MetricSnapshot.objects.values_list("date", flat=True)) == [date(2026, 11, 18), date(2026, 11, 19)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-31"], "is not a date"),
        (["--from", "2026-11-10", "--to", "2026-11-10"], "must be before --to"),
        (["--from", "2026-11-10", "--to", "2026-11-22"], "in the future"),
    ],
)
def test_backfill_refuses_bad_arguments(args, message):
    with time_machine.travel(datetime(2026, 11, 20, 3, tzinfo=UTC), tick=False):
        with pytest.raises(CommandError, match=message):
            call_command("backfill_metrics", *args, stdout=StringIO())
    assert not MetricSnapshot.objects.exists()


def test_demo_seed_backfills_the_last_90_days(build):
    class Ctx:
        now = datetime(2026, 11, 28, 10, tzinfo=UTC)
        rng = random.Random(1)
        services = [build.service]

    build.incident(detected_at=at(27, 8))
    build.resolved(detected_at=at(20, 8), resolved_at=at(20, 9))
    summary = demo.seed(Ctx())
    assert re.fullmatch(r"metrics: 1 satisfaction surveys, [01] answered; 90 daily snapshots", summary)
    dates = sorted(MetricSnapshot.objects.values_list("date", flat=True))
    assert dates[0] == date(2026, 8, 30) and dates[-1] == date(2026, 11, 27) and len(dates) == 90
    assert MetricSnapshot.objects.get(date=date(2026, 11, 27)).data["incidents"]["count"] == 1
    assert MetricSnapshot.objects.get(date=date(2026, 11, 20)).data["incidents"]["csat_response_rate"] in (0.0, 1.0)
