"""Pages of the desk tools."""

from django.urls import path

from . import views

app_name = "desk"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("export/<slug:list_key>.csv", views.export, name="export"),
    path("saved-filters/<slug:list_key>/", views.saved_filter_save, name="saved-filter-save"),
    path("saved-filters/<int:pk>/delete/", views.saved_filter_delete, name="saved-filter-delete"),
    path("attachments/<slug:kind>/<int:pk>/", views.attachment_upload, name="attachment-upload"),
    path("attachments/<int:pk>/download/", views.attachment_download, name="attachment-download"),
    path("attachments/<int:pk>/delete/", views.attachment_delete, name="attachment-delete"),
]
