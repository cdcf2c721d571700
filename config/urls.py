from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from config.metrics import metrics

api_patterns = [
    path("", include("accounts.urls")),
    path("", include("customers.urls")),
    path("", include("notifications.urls")),
    path("", include("delivery.urls")),
    path("", include("incidents.urls")),
    path("", include("tickets.urls")),
    path("", include("incidents.public_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    # The split view serves Swagger UI's start-up code as a script file, so the
    # page needs no inline script under the Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("anymail/", include("anymail.urls")),
    path("", include("web.urls")),
]
