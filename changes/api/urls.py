from rest_framework.routers import SimpleRouter

from .views import ChangeRequestViewSet

router = SimpleRouter()
router.register("changes", ChangeRequestViewSet, basename="changerequest")

urlpatterns = router.urls
