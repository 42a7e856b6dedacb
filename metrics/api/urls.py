"""Metrics endpoints under /api/v1/."""

from django.urls import path

from . import views

urlpatterns = [
    path("metrics/", views.MetricsSummaryView.as_view(), name="metrics-summary"),
    path("metrics/timeseries/", views.MetricsTimeseriesView.as_view(), name="metrics-timeseries"),
]
