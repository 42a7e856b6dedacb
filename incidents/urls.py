"""Incident web pages (the service desk's screens)."""

from django.urls import path

from . import views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create, name="create"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/edit/", views.incident_edit, name="edit"),
    path("<int:pk>/transition/<slug:name>/", views.incident_transition, name="transition"),
    path("<int:pk>/note/", views.incident_note, name="note"),
    path("<int:pk>/severity/", views.incident_severity, name="severity"),
    path("<int:pk>/escalate/", views.incident_escalate, name="escalate"),
]
