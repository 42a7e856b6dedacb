from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AlertIngestView, AlertSourceViewSet

router = SimpleRouter()
router.register("alert-sources", AlertSourceViewSet, basename="alert-source")

urlpatterns = [
    path("alerts/<slug:source_slug>/", AlertIngestView.as_view(), name="alerts-ingest"),
    *router.urls,
]
