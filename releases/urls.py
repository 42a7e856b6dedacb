"""Web pages of release management (``/releases/``)."""

from django.urls import path

from . import views

app_name = "releases"
urlpatterns = [
    path("", views.release_list, name="list"),
    path("new/", views.release_create, name="create"),
    path("calendar/", views.release_calendar, name="calendar"),
    path("<int:pk>/", views.release_detail, name="detail"),
    path("<int:pk>/edit/", views.release_edit, name="edit"),
    path("<int:pk>/transition/<slug:name>/", views.release_transition, name="transition"),
    path("<int:pk>/deliverables/", views.deliverable_add, name="deliverable_add"),
    path("<int:pk>/deployments/", views.deployment_add, name="deployment_add"),
    path("<int:pk>/deployments/<int:deployment_pk>/", views.deployment_update, name="deployment_update"),
    path("<int:pk>/checks/", views.check_record, name="check_record"),
]
