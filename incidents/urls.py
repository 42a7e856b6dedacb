"""Incident web pages (the service desk's screens)."""

from django.urls import path

from . import process_views, views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create, name="create"),
    path("bulk/", views.incident_bulk, name="bulk"),
    path("<int:pk>/assign-to-me/", views.incident_assign_to_me, name="assign-to-me"),
    path("<int:pk>/live/", views.incident_live, name="live"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/edit/", views.incident_edit, name="edit"),
    path("<int:pk>/transition/<slug:name>/", views.incident_transition, name="transition"),
    path("<int:pk>/note/", views.incident_note, name="note"),
    path("<int:pk>/severity/", views.incident_severity, name="severity"),
    path("<int:pk>/escalate/", views.incident_escalate, name="escalate"),
    path("<int:pk>/steps/<slug:key>/complete/", process_views.step_complete, name="step-complete"),
    path("<int:pk>/steps/<slug:key>/skip/", process_views.step_skip, name="step-skip"),
    path("<int:pk>/review/", process_views.review_save, name="review"),
    path("<int:pk>/action-items/", process_views.action_item_add, name="action-item-add"),
    path("<int:pk>/action-items/<int:item_id>/complete/", process_views.action_item_complete,
         name="action-item-complete"),
    path("<int:pk>/action-items/<int:item_id>/cancel/", process_views.action_item_cancel, name="action-item-cancel"),
    path("<int:pk>/status-updates/", process_views.status_update_add, name="status-update-add"),
    path("<int:pk>/declare-major/", process_views.declare_major, name="declare-major"),
]
