"""EMAIL_MAX_PER_SECOND / SMS_MAX_PER_SECOND hold across every worker: two
real worker processes (two lanes each) share one schedule of send slots,
in Redis when the broker is Redis. And a gateway's 429 with Retry-After
defers the message by that long without spending an attempt."""

import datetime
import time

import pytest
from django.utils import timezone

from conftest import database_url_for_subprocess
from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus, OutboxMessage
from delivery.ratelimit import BURST
from delivery.tests.fleet import Fleet
from delivery.tests.sinks import SmtpSink
from delivery.tests.test_reliability import (
    broker_for_this_process,
    make_customers,
    start_notification,
    wait_done,
)

S = MessageStatus
RATE = 20
COUNT = 120
SENDING_LANES = 2 * 2  # two workers, two lanes each (DELIVERY_LANES)


def busiest_second(times: list[float]) -> int:
    """The most messages received in any one-second window."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_email_rate_holds_across_two_worker_processes(postgres, redis_url, tmp_path):
    import redis

    redis.Redis.from_url(redis_url).delete("proactive:ratelimit:email")
    previous = broker_for_this_process(redis_url)
    fleet = None
    with SmtpSink() as smtp:
        try:
            fleet = Fleet(
                database_url=database_url_for_subprocess(),
                broker_url=redis_url,
                data_dir=tmp_path / "fleet",
                env={
                    **smtp.env(),
                    "EMAIL_MAX_PER_SECOND": str(RATE),
                    "DELIVERY_LANES": "2",
                    "DELIVERY_BATCH_SIZE": "25",
                    "DELIVERY_LEASE_SECONDS": "20",
                },
            )
            fleet.start_worker("w0")
            fleet.start_worker("w1")
            fleet.start_beat()
            fleet.wait_ready()
            make_customers(COUNT, prefix="rl")
            notification = start_notification()
            result = wait_done(notification, timeout=300)  # a busy machine is slow to start
        finally:
            if fleet is not None:
                fleet.stop()
            broker_for_this_process(previous)
        times = [r.received_at for r in smtp.received]
    assert result == {S.SENT: COUNT}
    assert len(times) == COUNT
    span = max(times) - min(times)
    achieved = (COUNT - 1) / span
    print(f"\n{COUNT} emails by two workers at a limit of {RATE}/s: {achieved:.1f}/s")
    # What reaches the sink in any stretch of time: the slots of that stretch
    # (RATE a second), the missed slots made up at once (BURST), and on each
    # sending lane at most one message whose slot came earlier but which
    # arrived late (a lane or the sink stalled by a busy machine): a lane takes
    # its next slot only after its last send is answered, and then no earlier
    # than BURST slots ago.
    beyond_the_rate = BURST + SENDING_LANES
    assert busiest_second(times) <= RATE + beyond_the_rate
    assert len(times) <= RATE * span + 1 + beyond_the_rate  # the whole send
    for name in ("w0", "w1"):  # both workers really sent
        assert "batch claimed" in fleet.log(name)


@pytest.mark.django_db
def test_the_database_schedule_spaces_sends_when_there_is_no_redis(settings):
    from delivery.ratelimit import RateLimiter

    settings.CELERY_BROKER_URL = "filesystem://"
    settings.RATE_LIMIT_REDIS_URL = ""
    settings.SMS_MAX_PER_SECOND = 20
    first, second = RateLimiter("sms"), RateLimiter("sms")  # two lanes
    started = time.monotonic()
    for _ in range(10):
        time.sleep(first.take())
        time.sleep(second.take())
    elapsed = time.monotonic() - started
    # 20 sends, one slot every 50 ms after the first BURST (taken at once)
    assert elapsed >= (20 - 1 - BURST) / 20 * 0.95


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_cancel_does_not_wait_while_a_lane_waits_for_its_send_slot(
    postgres, settings, make_customer, make_notification
):
    """At one email every two seconds a lane spends most of its time waiting
    for its slot; it lets go of the cancel fence meanwhile, so a cancel
    commits within the fence's bound and the message waiting is not sent."""
    import threading

    from django.db import connections

    from delivery.fence import FENCE_SECONDS
    from delivery.tests.conftest import started
    from notifications.services import notification_cancel

    always = datetime.time(0, 0)  # open all day, whatever the hour the test runs at
    for _ in range(10):
        make_customer(contact_window_start=always, contact_window_end=always)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.RATE_LIMIT_REDIS_URL = ""  # the schedule in the database
    settings.EMAIL_MAX_PER_SECOND = 0.5
    notification = started(make_notification(channels=["email"]))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )

    def lane():
        try:
            services.message_batch_deliver()
        finally:
            connections.close_all()

    sender = threading.Thread(target=lane)
    sender.start()
    deadline = time.monotonic() + 30
    while OutboxMessage.objects.count() < BURST + 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the first slots are at once, the next two seconds on
    assert OutboxMessage.objects.count() == BURST + 1
    time.sleep(0.3)  # the lane is waiting for its next slot
    before = time.monotonic()
    notification_cancel(notification=notification)
    cancel_seconds = time.monotonic() - before
    sender.join(timeout=30)
    assert not sender.is_alive()
    assert cancel_seconds < FENCE_SECONDS + 0.25
    assert OutboxMessage.objects.count() == BURST + 1  # nothing after the cancel
    statuses = sorted(Message.objects.values_list("status", flat=True))
    assert statuses == [S.CANCELLED] * (10 - BURST - 1) + [S.SENT] * (BURST + 1)


@pytest.mark.django_db
def test_a_long_wait_for_a_slot_passes_the_fence_again_and_a_short_one_keeps_its_run(
    make_customer, make_notification
):
    from delivery.fence import FENCE_SECONDS, CancelFence
    from delivery.recording import SentRecorder
    from delivery.tests.conftest import started
    from notifications.models import Notification

    make_customer()
    notification = started(make_notification(channels=["email"]))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    message = Message.objects.get()
    transactional = services.transactional_email_enqueue(
        to="ann@example.com", subject="Ticket T-1 updated", body="Hello"
    )
    fence = CancelFence(SentRecorder())
    assert fence.admit(message)
    Notification.objects.filter(pk=notification.pk).update(status=Notification.Status.CANCELLED)
    assert fence.pause(message, 0.01)  # inside the run: the admission stands
    assert not fence.pause(message, FENCE_SECONDS + 0.01)  # let go, passed again: cancelled
    # No notification, nothing to check again (not the run it finds itself in).
    assert fence.pause(transactional, FENCE_SECONDS + 0.01)
    fence.release()


@pytest.mark.django_db
def test_a_429_with_retry_after_defers_without_spending_an_attempt(settings, make_notification):
    from delivery.tests.conftest import started
    from delivery.tests.sinks import SmsGatewaySink

    always = datetime.time(0, 0)  # open all day, whatever the hour the test runs at
    customer = Customer.objects.create(
        account_number="A1",
        name="Ann",
        phone="+79001234567",
        contact_window_start=always,
        contact_window_end=always,
    )
    with SmsGatewaySink(busy_after=0, retry_after="120") as gateway:
        settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_TOKEN = gateway.url, ""
        notification = started(make_notification(channels=["sms"]))
        services.messages_materialise(
            notification=notification, customers=Customer.objects.all(), channels=["sms"]
        )
        before = timezone.now()
        services.message_batch_deliver()
    message = Message.objects.get(customer=customer)
    assert message.status == S.DEFERRED
    assert message.attempts == 0  # the attempt was given back
    assert message.last_error.startswith("SMS gateway HTTP 429")
    wait = message.next_attempt_at - before
    assert datetime.timedelta(seconds=119) <= wait <= datetime.timedelta(seconds=125)
