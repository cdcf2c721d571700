from django.urls import path
from django.views.decorators.http import conditional_page

from incidents.public_api import PublicStatusView
from incidents.report_api import OutageMinutesReportView

urlpatterns = [
    # ETag and 304 to a visitor who has the current document.
    path("status/", conditional_page(PublicStatusView.as_view()), name="public-status"),
    path(
        "reports/outage-minutes/",
        OutageMinutesReportView.as_view(),
        name="report-outage-minutes",
    ),
]
