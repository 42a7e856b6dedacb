"""Web pages of change management (``/changes/``)."""

from django.urls import path

from . import views

app_name = "changes"
urlpatterns = [
    path("", views.change_list, name="list"),
    path("new/", views.change_create, name="create"),
    path("calendar/", views.change_calendar, name="calendar"),
    path("calendar.ics", views.calendar_feed, name="calendar-feed"),
    path("calendar/feed-tokens/", views.feed_token_issue, name="feed-token-issue"),
    path("calendar/feed-tokens/<int:pk>/revoke/", views.feed_token_revoke, name="feed-token-revoke"),
    path("<int:pk>/", views.change_detail, name="detail"),
    path("<int:pk>/edit/", views.change_edit, name="edit"),
    path("<int:pk>/transition/", views.change_transition, name="transition"),
    path("<int:pk>/approve/", views.change_approve, name="approve"),
    path("<int:pk>/reject/", views.change_reject, name="reject"),
]
