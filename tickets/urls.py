from django.urls import path
from rest_framework.routers import SimpleRouter

from tickets import api, stats_api

router = SimpleRouter()
router.register("tickets", api.TicketViewSet, basename="ticket")
router.register("interactions", api.InteractionViewSet, basename="interaction")
router.register("engineers", api.EngineerViewSet, basename="engineer")

# Before the router's routes, whose ticket detail would take "stats" for an id.
urlpatterns = [
    path("tickets/stats/", stats_api.TicketStatsView.as_view(), name="ticket-stats"),
    *router.urls,
]
