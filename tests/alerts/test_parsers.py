"""The parsers read each format into one shape; times and fingerprints as the monitoring tools send them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerts.parsers import AlertError, PayloadError, parse
from alerts.parsers.base import fingerprint_of, parse_time

from .conftest import T0, payload


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T08:52:26.739266876+01:00", datetime(2026, 3, 2, 7, 52, 26, 739266, tzinfo=UTC)),
        ("2026-03-02T07:54:01.1Z", datetime(2026, 3, 2, 7, 54, 1, 100000, tzinfo=UTC)),
        ("2026-03-02T09:00:00-05:30", datetime(2026, 3, 2, 14, 30, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_times_with_nanoseconds_offsets_and_gos_zero_time(text, expected):
    parsed = parse_time(text, "x", required=False)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() is not None


@pytest.mark.parametrize("text", ["2026-03-02 09:00", "2026-03-02T09:00:00", "tomorrow", "1969-12-31T23:59:59Z", 17])
def test_bad_times_are_named(text):
    with pytest.raises(AlertError) as error:
        parse_time(text, "alerts[2].startsAt", required=True)
    assert error.value.path == "alerts[2].startsAt"


def test_a_missing_fingerprint_is_made_from_the_labels_in_any_order():
    one = fingerprint_of(None, "f", labels={"alertname": "A", "instance": "x"})
    two = fingerprint_of("", "f", labels={"instance": "x", "alertname": "A"})
    assert one == two and len(one) == 16
    assert fingerprint_of(None, "f", labels={"alertname": "B", "instance": "x"}) != one
    with pytest.raises(AlertError):
        fingerprint_of(None, "f", labels={})


def test_alertmanager_and_grafana_read_into_one_shape():
    am = parse("alertmanager", payload("alertmanager_v4_firing"), service_label="service", received_at=T0).alerts
    grafana = parse("grafana", payload("grafana_firing"), service_label="service", received_at=T0).alerts
    assert [a.fingerprint for a in am] == ["1a30ba71cca2921f", "5d3e4f41b2a1c0aa"]
    assert am[0].group_key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'
    assert am[0].group_label == "alertname=ProbeFailure"
    assert am[0].ends_at is None and am[0].status == "firing"
    assert grafana[0].annotations["panel_url"] == "https://grafana.example.org/d/memory?viewPanel=2"
    assert "dashboard_url" not in grafana[1].annotations  # empty links are left out
    assert grafana[0].starts_at.astimezone(timezone(timedelta(hours=2))).hour == 9


def test_generic_fields_become_labels_and_annotations():
    parsed = parse("generic", payload("generic"), service_label="app", received_at=T0).alerts[0]
    assert parsed.labels == {"host": "db1", "mount": "/var", "severity": "warning", "app": "checkout"}
    assert parsed.annotations == {"summary": "Disk /var almost full on db1",
                                  "description": "/var is 93 % full and growing 2 % an hour."}
    assert parsed.group_key == "group:db1-disks"


def test_an_envelope_that_is_not_a_payload_is_refused_whole():
    with pytest.raises(PayloadError) as error:
        parse("grafana", {"orgId": "one", "alerts": []}, service_label="service", received_at=T0)
    assert error.value.errors == {"orgId": "Must be a number."}
