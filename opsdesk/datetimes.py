"""Datetimes that clients send: ISO 8601 with an offset (§7), checked once for the API's
fields and filters.

Refused with a message naming the problem (400, with the field named by the caller):
no offset, an offset beyond ±14 h, a value that is not ISO 8601, and a value that leaves
the range the database stores once taken to UTC (``0001-01-01T00:00:00-23:59``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers

MAX_OFFSET = timedelta(hours=14)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
NEEDS_OFFSET = "Give the time with an offset (e.g. 2026-03-01T09:30:00Z or 2026-03-01T10:30:00+01:00)."


def parse_offset_datetime(value, *, allow_naive: bool = False) -> datetime:
    """``value`` (text or datetime) as an aware UTC datetime; ``ValueError`` with a message otherwise.

    ``allow_naive`` takes a value without offset in the site's time zone (the pages'
    ``datetime-local`` inputs); the API never does.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("Not a date and time in ISO 8601 (e.g. 2026-03-01T09:30:00Z).") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        if not allow_naive:
            raise ValueError(NEEDS_OFFSET)
        parsed = timezone.make_aware(parsed)
    offset = parsed.utcoffset()
    if abs(offset) > MAX_OFFSET:
        raise ValueError("The offset must be between -14:00 and +14:00.")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("Out of range: give a date between 1900 and 9000.") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("Out of range: give a date between 1900 and 9000.")
    return utc


class OffsetDateTimeField(serializers.DateTimeField):
    """The API's datetime field: an offset is required, out-of-range values are a 400."""

    def to_internal_value(self, value):
        try:
            return parse_offset_datetime(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class OffsetDateTimeFormField(forms.DateTimeField):
    """A filter's form field with the same rule; a page sets ``allow_naive`` for its
    ``datetime-local`` inputs, which send the site's local time without offset."""

    allow_naive = False

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_offset_datetime(value, allow_naive=self.allow_naive)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class OffsetDateTimeFilter(django_filters.Filter):
    """``?detected_after=2026-03-01T09:30:00Z``: an ISO 8601 time with an offset on the API.

    The pages' filter bars (same FilterSet) send ``datetime-local`` values, without offset:
    those are taken in the site's time zone everywhere but under ``/api/``.
    """

    field_class = OffsetDateTimeFormField

    @property
    def field(self):
        field = super().field
        request = getattr(getattr(self, "parent", None), "request", None)
        field.allow_naive = not (request is not None and request.path.startswith("/api/"))
        return field
