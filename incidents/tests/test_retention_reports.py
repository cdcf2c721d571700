"""An outage older than the message retention: once its notices' messages
are purged, the notices' statistics and the outage-minutes report read the
same as before."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from customers.models import Customer
from delivery import retention
from delivery import services as delivery
from delivery.models import Message
from incidents.models import Incident
from incidents.tests import outage_helpers as make
from incidents.tests.helpers import deliver
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_statistics_and_outage_minutes_survive_the_purge_of_an_old_outage(engineer_client):
    day = (timezone.now() - datetime.timedelta(days=settings.MESSAGE_RETENTION_DAYS + 10)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    anna = make.customer("ACC-1", name="Anna")
    boris = make.customer("ACC-2", name="Boris")
    outage = make.outage(
        customers=[anna, boris],
        status=Incident.Status.RESOLVED,
        started_at=day + datetime.timedelta(hours=10),
        resolved_at=day + datetime.timedelta(hours=11, minutes=30),
    )
    notice = Notification.objects.create(
        title="Fibre cut",
        body="Dear {{ customer.name }}, your service is down.",
        channels=["email"],
        kind=Notification.Kind.OUTAGE,
        incident=outage,
        status=Notification.Status.SENDING,
        started_at=timezone.now(),
        materialized_at=timezone.now(),
    )
    delivery.messages_materialise(
        notification=notice, customers=Customer.objects.all(), channels=["email"]
    )
    deliver()
    Notification.objects.filter(pk=notice.pk).update(
        status=Notification.Status.COMPLETED, finished_at=day + datetime.timedelta(hours=12)
    )
    period = {"from": day.date().isoformat(), "to": day.date().isoformat()}
    stats_url = f"/api/notifications/{notice.pk}/stats/"
    report_url = "/api/reports/outage-minutes/"
    stats = engineer_client.get(stats_url).json()
    notices = engineer_client.get(f"/api/incidents/{outage.pk}/stats/").json()["notices"]
    report = engineer_client.get(report_url, period).json()["results"]
    assert stats["by_status"]["sent"] == 2
    assert {row["account_number"]: row["outage_minutes"] for row in report} == {
        "ACC-1": 90,
        "ACC-2": 90,
    }

    assert retention.messages_purge().messages == 2
    assert not Message.objects.exists()

    assert engineer_client.get(stats_url).json() == stats
    assert engineer_client.get(f"/api/incidents/{outage.pk}/stats/").json()["notices"] == notices
    assert engineer_client.get(report_url, period).json()["results"] == report
