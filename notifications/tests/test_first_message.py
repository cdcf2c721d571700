"""Time to the first message: "send now" reaches a real worker without
waiting for a beat tick, and a large audience is written in parts so the
first part goes out while the rest is written, with every guarantee kept
(each customer once, cancel wins, supersession covers every part)."""

import time
from collections import Counter

import pytest
from django.db import connection

from conftest import wait_until
from customers.tests.factories import CustomerFactory
from delivery.models import Message, MessageStatus
from delivery.tests.sinks import SmtpSink
from notifications import services
from notifications.models import Notification

S = MessageStatus


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of two customers, so a handful of customers is a "large" audience."""
    monkeypatch.setattr(services, "MATERIALISE_FIRST_PART", 2)
    monkeypatch.setattr(services, "MATERIALISE_SQLITE_PART", 2)


def _producer_on(worker):
    """Point this process's Celery producer at the worker's broker, so the
    signals the services send after commit reach it. Returns an undo."""
    from config.celery import app

    previous = (app.conf.broker_url, app.conf.broker_transport_options)
    options = worker.connection().transport_options

    def use(url, transport_options):
        app.conf.update(
            {
                "broker_url": url,
                "broker_write_url": url,
                "broker_read_url": url,
                # The Django setting's own name comes first in the lookup.
                "CELERY_BROKER_TRANSPORT_OPTIONS": transport_options,
                "broker_transport_options": transport_options,
            }
        )
        app._pool = None
        app.amqp._producer_pool = None

    use(worker.broker_url, options)
    return lambda: use(*previous)


@pytest.mark.django_db(transaction=True)
def test_a_send_now_to_three_customers_is_delivered_without_waiting_for_a_beat_tick(
    request, engineer_client, start_worker
):
    """No beat runs, and its intervals are a minute: only the send's own
    signals (materialise → dispatch → drain) can carry the messages."""
    if connection.vendor == "postgresql":
        broker = request.getfixturevalue("redis_url")
    else:
        broker = "filesystem://"  # the embedded default
    customers = CustomerFactory.create_batch(3)
    notification = Notification.objects.create(
        title="Outage",
        body="Dear {{ customer.name }}, the service is down.",
        channels=["email"],
        kind=Notification.Kind.OUTAGE,
        audience={"customer_ids": [c.pk for c in customers]},
    )
    with SmtpSink() as sink:
        worker = start_worker(
            broker_url=broker,
            concurrency=2,
            extra_env={
                **sink.env(),
                "DISPATCH_INTERVAL_SECONDS": "60",
                "SCHEDULER_INTERVAL_SECONDS": "60",
            },
        )
        wait_until(lambda: "ready." in worker.log(), timeout=90)
        undo = _producer_on(worker)
        try:
            started = time.monotonic()
            response = engineer_client.post(f"/api/notifications/{notification.pk}/send/")
            assert response.status_code == 202, response.content
            wait_until(lambda: len(sink.received) >= 3, timeout=15, interval=0.05)
            elapsed = time.monotonic() - started
        finally:
            undo()
        assert sorted(r.to for r in sink.received) == sorted(c.email for c in customers)
    assert elapsed < 15
    wait_until(
        lambda: Notification.objects.get(pk=notification.pk).status == "completed", timeout=10
    )


@pytest.mark.django_db
def test_a_large_audience_is_written_in_parts_each_customer_once(
    small_parts, make_notification, monkeypatch
):
    customers = CustomerFactory.create_batch(5)
    notification = make_notification(status=Notification.Status.SENDING)
    dispatched_after = []
    monkeypatch.setattr(
        services,
        "_dispatch_now",
        lambda: dispatched_after.append(Message.objects.filter(notification=notification).count()),
    )

    written = services.notification_materialise(notification=notification)

    assert written == 5
    rows = Message.objects.filter(notification=notification)
    assert Counter(rows.values_list("customer_id", flat=True)) == {c.pk: 1 for c in customers}
    # The workers were told once, when the first part (two customers) was in.
    assert dispatched_after == [2]
    notification.refresh_from_db()
    assert notification.materialized_at is not None


@pytest.mark.django_db
def test_a_run_that_stopped_after_a_part_is_redone_without_writing_anyone_twice(
    small_parts, make_notification, monkeypatch
):
    customers = CustomerFactory.create_batch(5)
    notification = make_notification(status=Notification.Status.SENDING)

    def worker_dies() -> None:
        raise SystemExit("the worker died after the first part")

    monkeypatch.setattr(services, "_dispatch_now", worker_dies)
    with pytest.raises(SystemExit):
        services.notification_materialise(notification=notification)
    assert Message.objects.filter(notification=notification).count() == 2
    notification.refresh_from_db()
    assert notification.materialized_at is None  # the scheduler's sweep redoes it

    monkeypatch.setattr(services, "_dispatch_now", lambda: None)
    assert services.notification_materialise(notification=notification) == 3
    rows = Message.objects.filter(notification=notification)
    assert Counter(rows.values_list("customer_id", flat=True)) == {c.pk: 1 for c in customers}


@pytest.mark.django_db
def test_a_cancel_between_parts_stops_the_rest(small_parts, make_notification, monkeypatch):
    CustomerFactory.create_batch(5)
    notification = make_notification(status=Notification.Status.SENDING)
    monkeypatch.setattr(
        services,
        "_dispatch_now",
        lambda: services.notification_cancel(notification=notification),
    )

    services.notification_materialise(notification=notification)

    assert Counter(
        Message.objects.filter(notification=notification).values_list("status", flat=True)
    ) == {S.CANCELLED: 2}
    notification.refresh_from_db()
    assert notification.status == Notification.Status.CANCELLED
