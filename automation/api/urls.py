from rest_framework.routers import SimpleRouter

from .views import AutomationRuleViewSet, AutomationRunViewSet

router = SimpleRouter()
router.register("automation/runs", AutomationRunViewSet, basename="automation-run")
router.register("automation/rules", AutomationRuleViewSet, basename="automation-rule")

urlpatterns = router.urls
