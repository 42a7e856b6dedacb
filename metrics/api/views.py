"""The metrics API (§7): the period summary and one metric's time series, as JSON or CSV."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.choices import Severity
from opsdesk.api.renderers import JSONRenderer

from ..definitions import COUNT, GROUPS, INTERVALS, METRIC_KEYS, METRICS, compute, timeseries
from .renderers import MetricsCSVRenderer
from .serializers import PeriodQuerySerializer, TimeseriesQuerySerializer

VIEW_METRICS = "metrics.view_metricsnapshot"


class CanViewMetrics(BasePermission):
    """Reading metrics needs ``metrics.view_metricsnapshot`` (API Readers and every role hold it)."""

    message = "You need the permission to view metrics (metrics.view_metricsnapshot)."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(VIEW_METRICS))


def _value_field(key: str) -> serializers.Field:
    metric = METRICS[key]
    if metric.unit == COUNT:
        return serializers.IntegerField(help_text=metric.definition)
    return serializers.FloatField(allow_null=True, help_text=metric.definition)


SummarySchema = inline_serializer(
    name="MetricsSummary",
    fields={
        "period": inline_serializer(
            name="MetricsPeriod", fields={"from": serializers.DateField(), "to": serializers.DateField()}
        ),
        **{
            group: inline_serializer(
                name=f"Metrics{group.title()}",
                fields={METRICS[k].name: _value_field(k) for k in METRIC_KEYS if METRICS[k].group == group},
            )
            for group in GROUPS
        },
    },
)

TimeseriesSchema = inline_serializer(
    name="MetricsBucket",
    fields={"bucket": serializers.DateField(), "value": serializers.FloatField(allow_null=True)},
    many=True,
)

PERIOD_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, required=True,
                     description="First day of the period (midnight in the site's time zone), included."),
    OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="First day after the period, excluded."),
    OpenApiParameter("service", OpenApiTypes.INT,
                     description="Service id: incidents of it, changes and releases listing it."),
    OpenApiParameter("team", OpenApiTypes.INT, description="Team id: incident metrics only."),
    OpenApiParameter("severity", OpenApiTypes.STR, enum=Severity.values, description="Incident metrics only."),
    OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: one row per value."),
]

ERRORS = {
    400: OpenApiResponse(
        description='Bad parameter; the body names it, e.g. {"from": ["Give a date as YYYY-MM-DD."]}'
    ),
    401: OpenApiResponse(description="No credentials (session or `Authorization: Token <key>`)."),
    403: OpenApiResponse(description="Authenticated without metrics.view_metricsnapshot."),
}


class MetricsAPIView(APIView):
    """Shared: permission, JSON/CSV renderers; errors always answer in JSON."""

    permission_classes = [CanViewMetrics]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, MetricsCSVRenderer]
    query_serializer_class = PeriodQuerySerializer

    def validated_query(self):
        query = self.query_serializer_class(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return query

    def finalize_response(self, request, response, *args, **kwargs):
        # Only a metrics answer has CSV rows; errors and OPTIONS (the view's description) answer in JSON.
        csv_asked = isinstance(getattr(request, "accepted_renderer", None), MetricsCSVRenderer)
        if csv_asked and (request.method not in ("GET", "HEAD") or response.status_code != 200):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def csv_response(self, response: Response, name: str) -> Response:
        if isinstance(getattr(self.request, "accepted_renderer", None), MetricsCSVRenderer):
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


class MetricsSummaryView(MetricsAPIView):
    """Every metric of §5 over the period ``[from, to)``."""

    @extend_schema(
        operation_id="metrics_summary",
        parameters=PERIOD_PARAMETERS,
        responses={(200, "application/json"): SummarySchema,
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="metric,value rows"),
                   **ERRORS},
        description="Every metric of the period: `{\"period\", \"incidents\", \"changes\", \"releases\", \"dora\"}`. "
                    "Durations are seconds, rates 0..1, null when there is no data.",
    )
    def get(self, request, *args, **kwargs):
        query = self.validated_query()
        data = query.validated_data
        payload = compute(data["from"], data["to"], query.filters())
        return self.csv_response(Response(payload), f"opsdesk-metrics-{data['from']}-{data['to']}")


class MetricsTimeseriesView(MetricsAPIView):
    """One metric per day, ISO week (Monday) or month over ``[from, to)``."""

    query_serializer_class = TimeseriesQuerySerializer

    @extend_schema(
        operation_id="metrics_timeseries",
        parameters=[
            OpenApiParameter("metric", OpenApiTypes.STR, required=True, enum=list(METRIC_KEYS)),
            OpenApiParameter("interval", OpenApiTypes.STR, required=True, enum=list(INTERVALS),
                             description="Buckets are labelled with their first day (a Monday for weeks)."),
            *PERIOD_PARAMETERS,
        ],
        responses={(200, "application/json"): TimeseriesSchema,
                   (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="bucket,value rows"),
                   **ERRORS},
        description="Each bucket is computed with the same definitions as the summary, over the bucket "
                    "clipped to the period.",
    )
    def get(self, request, *args, **kwargs):
        query = self.validated_query()
        data = query.validated_data
        series = timeseries(data["metric"], data["interval"], data["from"], data["to"], query.filters())
        return self.csv_response(
            Response(series), f"opsdesk-{data['metric']}-{data['interval']}-{data['from']}-{data['to']}"
        )
