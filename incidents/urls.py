from django.urls import path
from rest_framework.routers import SimpleRouter

from incidents import api

router = SimpleRouter()
router.register("incidents", api.IncidentViewSet, basename="incident")

urlpatterns = [
    path("alerts/alertmanager/", api.AlertmanagerWebhookView.as_view(), name="alerts-alertmanager"),
    *router.urls,
]
