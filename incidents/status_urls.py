from django.urls import path

from incidents.public_api import PublicStatusView

urlpatterns = [path("status/", PublicStatusView.as_view(), name="public-status")]
