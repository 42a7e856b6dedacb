"""``GET /api/v1/metrics/services/`` and ``GET /api/v1/metrics/insights/`` (§5), as JSON or CSV."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ..availability import availability_series, service_report
from ..definitions import INTERVALS, METRIC_KEYS, buckets
from ..insights import insights
from .serializers import TimeseriesQuerySerializer
from .views import ERRORS, PERIOD_PARAMETERS, MetricsAPIView, TimeseriesSchema

SCOPE_PARAMETERS = [p for p in PERIOD_PARAMETERS if p.name != "severity"]

ServicesSchema = inline_serializer(
    name="MetricsServiceAvailability",
    fields={
        "service": serializers.IntegerField(),
        "name": serializers.CharField(),
        "slug": serializers.CharField(),
        "availability": serializers.FloatField(
            allow_null=True,
            help_text="1 − union of the impact windows [started_at, resolved_at or now) of the service's major "
                      "or critical incidents within the period ÷ period length; null for a period not yet begun.",
        ),
        "downtime_seconds": serializers.FloatField(help_text="The length of that union."),
        "incidents": serializers.IntegerField(help_text="incidents.count of the service"),
        "major_incidents": serializers.IntegerField(help_text="of those, the ones with major set"),
        "changes": serializers.IntegerField(help_text="changes.count of the service"),
        "change_failure_rate": serializers.FloatField(
            allow_null=True, help_text="dora.change_failure_rate of the service"
        ),
    },
    many=True,
)

InsightsSchema = inline_serializer(
    name="MetricsInsight",
    fields={
        "metric": serializers.ChoiceField(choices=list(METRIC_KEYS)),
        "scope": serializers.DictField(help_text='{"service": id} or {"team": id}'),
        "scope_name": serializers.CharField(),
        "value": serializers.FloatField(),
        "previous": serializers.FloatField(),
        "change": serializers.FloatField(allow_null=True, help_text="(value − previous) ÷ previous"),
        "sample": serializers.IntegerField(),
        "previous_sample": serializers.IntegerField(),
        "direction": serializers.ChoiceField(choices=["worse", "better"]),
        "text": serializers.CharField(),
    },
    many=True,
)


class MetricsServicesView(MetricsAPIView):
    """Availability, incidents, changes and change failure rate per service over ``[from, to)``."""

    csv_headers = ["service", "name", "slug", "availability", "downtime_seconds", "incidents", "major_incidents",
                   "changes", "change_failure_rate"]

    @extend_schema(
        operation_id="metrics_services",
        parameters=SCOPE_PARAMETERS,
        responses={(200, "application/json"): ServicesSchema,
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one row per service"),
                   **ERRORS},
        description="Per service (by name; `service` limits to one, `team` to the team's services).",
    )
    def get(self, request, *args, **kwargs):
        query = self.validated_query()
        data = query.validated_data
        rows = service_report(data["from"], data["to"], service=data.get("service"), team=data.get("team"))
        return self.csv_response(Response(rows), f"opsdesk-services-{data['from']}-{data['to']}")


class MetricsInsightsView(MetricsAPIView):
    """The notable differences between ``[from, to)`` and the period before it, most important first."""

    csv_headers = ["metric", "scope_type", "scope_id", "scope_name", "value", "previous", "change", "sample",
                   "previous_sample", "direction", "text"]

    @extend_schema(
        operation_id="metrics_insights",
        parameters=[
            *SCOPE_PARAMETERS,
            OpenApiParameter("limit", OpenApiTypes.INT, description="At most this many (1–100)."),
        ],
        responses={(200, "application/json"): InsightsSchema,
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one row per insight"),
                   **ERRORS},
        description="Per metric and per service and team; a difference counts only with at least "
                    "OPSDESK_INSIGHT_MIN_SAMPLE items (default 5) in each period. Worse first, then better.",
    )
    def get(self, request, *args, **kwargs):
        query = self.validated_query()
        data = query.validated_data
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False)
        raw = request.query_params.get("limit")
        try:
            count = limit.run_validation(raw) if raw not in (None, "") else None
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"limit": exc.detail}) from exc
        rows = insights(data["from"], data["to"], service=data.get("service"), team=data.get("team"), limit=count)
        return self.csv_response(Response(rows), f"opsdesk-insights-{data['from']}-{data['to']}")


class AvailabilityQuerySerializer(TimeseriesQuerySerializer):
    """``service`` (required), ``interval``, ``from``, ``to``: the availability series of one service."""

    def get_fields(self):
        fields = super().get_fields()
        del fields["metric"]
        fields["service"].required = True
        fields["service"].error_messages["required"] = "This parameter is required (a service id)."
        return fields


class MetricsServiceTimeseriesView(MetricsAPIView):
    """One service's availability per day, ISO week or month over ``[from, to)``."""

    query_serializer_class = AvailabilityQuerySerializer

    @extend_schema(
        operation_id="metrics_service_availability_timeseries",
        parameters=[
            OpenApiParameter("service", OpenApiTypes.INT, required=True),
            OpenApiParameter("interval", OpenApiTypes.STR, required=True, enum=list(INTERVALS)),
            *[p for p in SCOPE_PARAMETERS if p.name not in ("service", "team")],
        ],
        responses={(200, "application/json"): TimeseriesSchema,
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="bucket,value rows"),
                   **ERRORS},
        description="`availability` of the service per bucket (clipped to the period), as in /metrics/services/.",
    )
    def get(self, request, *args, **kwargs):
        query = self.validated_query()
        data = query.validated_data
        spans = buckets(data["from"], data["to"], data["interval"])
        values = availability_series(data["service"], spans)
        series = [
            {"bucket": label.isoformat(), "value": value} for (label, _), value in zip(spans, values, strict=True)
        ]
        return self.csv_response(
            Response(series),
            f"opsdesk-availability-{data['service']}-{data['interval']}-{data['from']}-{data['to']}",
        )
