from rest_framework.routers import SimpleRouter

from .views import BusinessCalendarViewSet, IncidentViewSet, SLAPolicyViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("calendars", BusinessCalendarViewSet, basename="calendar")
router.register("sla-policies", SLAPolicyViewSet, basename="sla-policy")

urlpatterns = router.urls
