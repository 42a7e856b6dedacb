from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("saved-filters", views.SavedFilterViewSet, basename="saved-filter")

urlpatterns = [
    path("incidents/<int:pk>/attachments/", views.incident_attachments, name="api-incident-attachments"),
    path("changes/<int:pk>/attachments/", views.change_attachments, name="api-change-attachments"),
    path("attachments/<int:pk>/", views.AttachmentView.as_view(), name="api-attachment"),
    path("attachments/<int:pk>/download/", views.AttachmentDownloadView.as_view(), name="api-attachment-download"),
    *router.urls,
]
