from django.urls import path
from rest_framework.routers import SimpleRouter

from customers import api

router = SimpleRouter()
router.register("customers", api.CustomerViewSet, basename="customer")
router.register("sites", api.SiteViewSet, basename="site")
router.register("service-types", api.ServiceTypeViewSet, basename="service-type")

urlpatterns = [
    path("audiences/preview/", api.AudiencePreviewView.as_view(), name="audience-preview"),
    *router.urls,
]
