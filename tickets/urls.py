from rest_framework.routers import SimpleRouter

from tickets import api

router = SimpleRouter()
router.register("tickets", api.TicketViewSet, basename="ticket")
router.register("interactions", api.InteractionViewSet, basename="interaction")
router.register("engineers", api.EngineerViewSet, basename="engineer")

urlpatterns = router.urls
