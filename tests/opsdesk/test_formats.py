"""The one date format of every page: ``format_when`` writes what ``dateformat`` writes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import dateformat, timezone

from opsdesk.templatetags.opsdesk_format import DATE, DATETIME, format_when, when_formatter


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_a_moment_reads_as_dateformat_writes_it(settings, time_zone):
    settings.TIME_ZONE = time_zone
    when = when_formatter()
    start = datetime(2025, 12, 31, 22, 59, 30, tzinfo=UTC)
    for step in range(0, 400 * 24, 7):  # every month, single- and double-digit days and hours, midnight
        moment = start + timedelta(hours=step, minutes=step % 60)
        assert format_when(moment) == dateformat.format(timezone.localtime(moment), DATETIME)
        assert when(moment) == format_when(moment)
    assert format_when(datetime(2026, 3, 4, 0, 5, tzinfo=UTC)) == dateformat.format(
        timezone.localtime(datetime(2026, 3, 4, 0, 5, tzinfo=UTC)), DATETIME)


def test_naive_moments_days_and_nothing():
    assert format_when(datetime(2026, 1, 2, 3, 4)) == "2 Jan 2026 03:04"
    assert format_when(date(2026, 1, 2)) == dateformat.format(date(2026, 1, 2), DATE) == "2 Jan 2026"
    assert format_when(None) == format_when("") == ""


def test_a_page_formatter_writes_what_format_when_writes():
    when = when_formatter()
    for value in (datetime(2026, 1, 2, 3, 4), date(2026, 1, 2), None, "", datetime(2026, 7, 9, 23, 30, tzinfo=UTC)):
        assert when(value) == format_when(value)
