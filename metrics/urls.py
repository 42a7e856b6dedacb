"""Metrics web pages."""

from django.urls import path

from . import service_pages, views

app_name = "metrics"
urlpatterns = [
    path("", views.metrics_dashboard, name="dashboard"),
    path("services/", service_pages.service_index, name="services"),
    path("services/<int:pk>/", service_pages.service_detail, name="service"),
]
