"""The message tally is exact after a real run: a Celery worker and beat
(subprocesses) send to an SMTP server that refuses some addresses and
fails others for a while, and to an SMS gateway; the first worker is
SIGKILLed mid-batch; one notification is cancelled while it sends, one
reaches its end with messages held back by closed contact windows, and a
newer notice supersedes what the first one held back. At the end the
tally equals a full count of the messages, row by row (and on PostgreSQL
also in one snapshot in the middle of the run). On SQLite and PostgreSQL."""

import datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conftest import database_url_for_subprocess, wait_until
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from delivery import services as delivery
from delivery.models import Message, MessageStatus
from delivery.tests.fleet import Fleet
from delivery.tests.sinks import SmsGatewaySink, SmtpSink
from delivery.tests.tally_check import counted, tallied
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)
S = MessageStatus


def closed_window() -> dict:
    now = timezone.now()
    start = (now + datetime.timedelta(hours=2)).time().replace(minute=0, second=0, microsecond=0)
    end = (now + datetime.timedelta(hours=3)).time().replace(minute=0, second=0, microsecond=0)
    return {"timezone": "UTC", "contact_window_start": start, "contact_window_end": end}


def notify(title: str, **fields) -> Notification:
    values = {
        "title": title,
        "body": "Dear {{ customer.name }}, account {{ customer.account_number }}.",
        "channels": ["email"],
        "kind": Notification.Kind.OUTAGE,
        "audience": {"all": True},
    }
    notification = Notification.objects.create(**(values | fields))
    services.notification_send(notification=notification)
    return notification


def sent(notification) -> int:
    return Message.objects.filter(notification=notification, status=S.SENT).count()


def test_the_tally_equals_a_full_count_after_failures_deferrals_a_cancel_and_a_sigkill(tmp_path):
    refused = {f"refused{i}@example.com" for i in range(3)}
    CustomerFactory.create_batch(60)
    for address in sorted(refused):
        CustomerFactory(email=address)
    CustomerFactory.create_batch(6, **closed_window())
    smtp = SmtpSink(reject=refused, temp_fail_ratio=0.05, delay=0.03).__enter__()
    gateway = SmsGatewaySink(token="t0ken").__enter__()
    fleet = Fleet(
        database_url=database_url_for_subprocess(),
        broker_url="filesystem://",
        data_dir=tmp_path / "fleet",
        env={
            **smtp.env(),
            **gateway.env(),
            "DELIVERY_BATCH_SIZE": "10",
            "DELIVERY_LEASE_SECONDS": "5",
            "DELIVERY_RETRY_BASE_SECONDS": "1",
            "DELIVERY_RETRY_MAX_SECONDS": "2",
        },
    )
    try:
        fleet.start_worker("w0")
        fleet.start_beat()
        fleet.wait_ready()
        first = notify("First", channels=["email", "sms"])
        # Killed in the middle of a batch: at least five claimed rows to go.
        sending = Message.objects.filter(notification=first, status=S.SENDING)
        wait_until(lambda: sent(first) >= 15 and sending.count() >= 5, timeout=90)
        fleet.kill("w0")
        # The dead worker's claimed rows wait out their lease.
        assert sending.exists()

        fleet.start_worker("w1")
        fleet.wait_ready()
        cancelled = notify("Cancelled")
        wait_until(lambda: sent(cancelled) >= 1, timeout=60)
        services.notification_cancel(notification=cancelled)
        ending = notify("Ending", end_at=timezone.now() + datetime.timedelta(seconds=4))
        newer = notify("Newer")
        wait_until(
            lambda: not Message.objects.filter(notification=first, status=S.PENDING).exists(),
            timeout=90,
        )
        delivery.messages_supersede(
            newer_notification_id=newer.pk, older_notification_ids=[first.pk]
        )
        if connection.vendor == "postgresql":
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                assert tallied() == counted()  # one snapshot, mid-run

        def settled():
            waiting = Message.objects.filter(status__in=[S.PENDING, S.SENDING]).exists()
            expired = Message.objects.filter(notification=ending, status=S.EXPIRED).exists()
            return not waiting and expired

        wait_until(settled, timeout=120, interval=0.25)
    finally:
        fleet.stop()
        smtp.__exit__(None, None, None)
        gateway.__exit__(None, None, None)

    statuses = set(Message.objects.values_list("status", flat=True))
    assert {S.SENT, S.FAILED, S.DEFERRED, S.EXPIRED, S.CANCELLED, S.SUPERSEDED} <= statuses
    assert Customer.objects.count() == 69
    assert tallied() == counted()
