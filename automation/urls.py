"""Automation pages."""

from django.urls import path

from . import views

app_name = "automation"
urlpatterns = [
    path("", views.AutomationView.as_view(), name="index"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("action-items/<int:item_id>/raise-change/", views.action_item_raise_change, name="raise-change"),
]
