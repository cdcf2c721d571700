from rest_framework.routers import SimpleRouter

from delivery import api

router = SimpleRouter()
router.register("outbox", api.OutboxViewSet, basename="outbox")

urlpatterns = router.urls
