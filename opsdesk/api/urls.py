"""The /api/v1/ router: each app registers its viewsets in its api/urls.py."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("services", views.ServiceViewSet)
router.register("teams", views.TeamViewSet)

urlpatterns = [
    path("", include("incidents.api.urls")),
    path("", include("changes.api.urls")),
    path("", include("releases.api.urls")),
    path("", include("metrics.api.urls")),
    path("", include("automation.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("desk.api.urls")),
    path("", include(router.urls)),
]
