from django.urls import path

from incidents.public_api import PublicStatusView
from incidents.report_api import OutageMinutesReportView

urlpatterns = [
    path("status/", PublicStatusView.as_view(), name="public-status"),
    path(
        "reports/outage-minutes/",
        OutageMinutesReportView.as_view(),
        name="report-outage-minutes",
    ),
]
