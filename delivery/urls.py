from django.urls import path
from rest_framework.routers import SimpleRouter

from delivery import api

router = SimpleRouter()
router.register("outbox", api.OutboxViewSet, basename="outbox")
router.register("suppressions", api.SuppressionViewSet, basename="suppression")

urlpatterns = [
    *router.urls,
    path("sms/inbound/", api.InboundSmsView.as_view(), name="sms-inbound"),
    path("sms/receipts/", api.SmsReceiptView.as_view(), name="sms-receipts"),
]
