from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ActionItemRaiseChangeView, AutomationRuleViewSet, AutomationRunViewSet

router = SimpleRouter()
router.register("automation/runs", AutomationRunViewSet, basename="automation-run")
router.register("automation/rules", AutomationRuleViewSet, basename="automation-rule")

urlpatterns = [
    *router.urls,
    path(
        "incidents/<int:pk>/action-items/<int:item_id>/raise-change/",
        ActionItemRaiseChangeView.as_view(),
        name="incident-action-item-raise-change",
    ),
]
