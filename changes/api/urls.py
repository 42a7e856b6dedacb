from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ChangeCalendarFeedView, ChangeRequestViewSet

router = SimpleRouter()
router.register("changes", ChangeRequestViewSet, basename="changerequest")

urlpatterns = [
    path("changes/calendar.ics", ChangeCalendarFeedView.as_view(), name="change-calendar-feed"),
    *router.urls,
]
