"""Query parameters of the metrics endpoints, validated with clear messages (400 on bad input)."""

from __future__ import annotations

from rest_framework import serializers

from incidents.choices import Severity
from opsdesk.models import Service, Team

from ..definitions import INTERVALS, METRIC_KEYS, METRICS, bucket_count

# The longest periods served: the summary is a constant handful of queries; a
# time series costs a few queries per bucket, so its number of buckets is capped.
MAX_SUMMARY_DAYS = 3660
MAX_BUCKETS = {"day": 366, "week": 157, "month": 120}

DATE_ERRORS = {
    "invalid": "Give a date as YYYY-MM-DD.",
    "required": "This parameter is required (a date, YYYY-MM-DD).",
}


def _id_field(label: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        min_value=1,
        error_messages={
            "invalid": f"Give the {label} as its numeric id.",
            "min_value": f"Give the {label} as its numeric id.",
        },
    )


class PeriodQuerySerializer(serializers.Serializer):
    """``from``, ``to`` (dates, ``[from, to)``) and the optional filters."""

    def get_fields(self):
        # "from" is a Python keyword, so the fields are declared here.
        return {
            "from": serializers.DateField(input_formats=["iso-8601"], error_messages=DATE_ERRORS),
            "to": serializers.DateField(input_formats=["iso-8601"], error_messages=DATE_ERRORS),
            "service": _id_field("service"),
            "team": _id_field("team"),
            "severity": serializers.ChoiceField(
                choices=Severity.choices,
                required=False,
                error_messages={
                    "invalid_choice": f'"{{input}}" is not a severity: choose one of {", ".join(Severity.values)}.'
                },
            ),
        }

    def validate_service(self, value):
        if value is not None and not Service.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"There is no service with id {value}.")
        return value

    def validate_team(self, value):
        if value is not None and not Team.objects.filter(pk=value).exists():
            raise serializers.ValidationError(f"There is no team with id {value}.")
        return value

    def validate(self, attrs):
        start, end = attrs["from"], attrs["to"]
        if start >= end:
            raise serializers.ValidationError(
                {"to": f"'to' ({end}) must be after 'from' ({start}): the period is [from, to)."}
            )
        if (end - start).days > MAX_SUMMARY_DAYS:
            raise serializers.ValidationError({"to": f"The period may cover at most {MAX_SUMMARY_DAYS} days."})
        return attrs

    def filters(self) -> dict:
        data = self.validated_data
        return {name: data.get(name) for name in ("service", "team", "severity")}


class TimeseriesQuerySerializer(PeriodQuerySerializer):
    """The period and filters plus ``metric`` and ``interval``."""

    def get_fields(self):
        fields = super().get_fields()
        fields["metric"] = serializers.ChoiceField(
            choices=[(key, METRICS[key].label) for key in METRIC_KEYS],
            error_messages={
                "invalid_choice": '"{input}" is not a metric. Known metrics: ' + ", ".join(METRIC_KEYS) + ".",
                "required": "This parameter is required (a metric key, e.g. incidents.mttr_seconds).",
            },
        )
        fields["interval"] = serializers.ChoiceField(
            choices=[(i, i) for i in INTERVALS],
            error_messages={
                "invalid_choice": f'"{{input}}" is not an interval: choose one of {", ".join(INTERVALS)}.',
                "required": f"This parameter is required: one of {', '.join(INTERVALS)}.",
            },
        )
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        interval = attrs["interval"]
        limit = MAX_BUCKETS[interval]
        if bucket_count(attrs["from"], attrs["to"], interval) > limit:
            raise serializers.ValidationError(
                {"to": f"A {interval} series has at most {limit} buckets: shorten the period or use a longer interval."}
            )
        return attrs
