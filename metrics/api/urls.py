"""Metrics endpoints under /api/v1/."""

from django.urls import path

from . import insight_views, views

urlpatterns = [
    path("metrics/", views.MetricsSummaryView.as_view(), name="metrics-summary"),
    path("metrics/timeseries/", views.MetricsTimeseriesView.as_view(), name="metrics-timeseries"),
    path("metrics/services/", insight_views.MetricsServicesView.as_view(), name="metrics-services"),
    path("metrics/services/timeseries/", insight_views.MetricsServiceTimeseriesView.as_view(),
         name="metrics-service-timeseries"),
    path("metrics/insights/", insight_views.MetricsInsightsView.as_view(), name="metrics-insights"),
]
