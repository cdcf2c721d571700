"""Reliability of the whole pipeline with real parts: PostgreSQL, Redis,
Celery worker and beat processes, an aiosmtpd SMTP server and an HTTP SMS
gateway, all on 127.0.0.1. Workers are killed, Redis is restarted, the
notification is cancelled or reaches its end mid-run."""

import datetime
import time
from collections import Counter

import pytest
from django.conf import settings
from django.utils import timezone

from conftest import child_pids, database_url_for_subprocess, process_running, wait_until
from customers.models import Customer
from customers.tests.factories import CustomerFactory
from delivery.models import Message, MessageStatus
from delivery.tests.fleet import Fleet, RedisServer
from delivery.tests.sinks import SmsGatewaySink, SmtpSink, free_port
from notifications import services
from notifications.models import Notification

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
S = MessageStatus
REDIS_DB = 11  # this app's own Redis database number


def make_customers(count: int, *, prefix: str = "r", **fields) -> list[Customer]:
    customers = [
        CustomerFactory.build(
            account_number=f"{prefix.upper()}-{i:05d}",
            name=f"Name {prefix}{i}",
            email=f"{prefix}{i}@example.com",
            phone=f"+79{ord(prefix[0]) % 100:02d}{i:07d}",
            location=fields.get("location", "Moscow"),
        )
        for i in range(count)
    ]
    return Customer.objects.bulk_create(customers)


def start_notification(**fields) -> Notification:
    values = {
        "title": "Notice {{ customer.account_number }}",
        "body": "Dear {{ customer.name }}, account {{ customer.account_number }}.",
        "channels": ["email"],
        "kind": Notification.Kind.OUTAGE,
        "audience": {"all": True},
    }
    values.update(fields)
    notification = Notification.objects.create(**values)
    # The API's path: inline for small audiences, else a task materialises.
    services.notification_send(notification=notification)
    return notification


def counts(notification) -> Counter:
    return Counter(
        Message.objects.filter(notification=notification).values_list("status", flat=True)
    )


def broker_for_this_process(url: str):
    """Point this test process's Celery producer at the fleet's broker, so
    the nudges the services send after commit go where the workers listen."""
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.update(broker_url=url, broker_write_url=url, broker_read_url=url)
    app._pool = None
    app.amqp._producer_pool = None
    return previous


@pytest.fixture
def rig(postgres, redis_url, tmp_path):
    """A fleet factory with an SMTP sink and an SMS gateway."""
    base = redis_url.rsplit("/", 1)[0]
    broker = f"{base}/{REDIS_DB}"
    import redis

    redis.Redis.from_url(broker).flushdb()
    smtp = SmtpSink().__enter__()
    gateway = SmsGatewaySink(token="t0ken").__enter__()
    fleets: list[Fleet] = []
    previous = broker_for_this_process(broker)

    def start(*, workers: int = 2, broker_url: str = broker, **env) -> Fleet:
        settings_env = {
            **smtp.env(),
            **gateway.env(),
            "DELIVERY_BATCH_SIZE": "50",
            "DELIVERY_LEASE_SECONDS": "5",
            "DELIVERY_RETRY_BASE_SECONDS": "1",
            "DELIVERY_RETRY_MAX_SECONDS": "2",
            **{k: str(v) for k, v in env.items()},
        }
        fleet = Fleet(
            database_url=database_url_for_subprocess(),
            broker_url=broker_url,
            data_dir=tmp_path / f"fleet{len(fleets)}",
            env=settings_env,
        )
        fleets.append(fleet)
        for n in range(workers):
            fleet.start_worker(f"w{n}")
        fleet.start_beat()
        fleet.wait_ready()
        return fleet

    start.smtp = smtp
    start.gateway = gateway
    yield start
    for fleet in fleets:
        fleet.stop()
    smtp.__exit__(None, None, None)
    gateway.__exit__(None, None, None)
    broker_for_this_process(previous)


def wait_done(notification, *, timeout: float) -> Counter:
    open_statuses = {S.PENDING, S.DEFERRED, S.SENDING}

    def done():
        current = counts(notification)
        return not (set(current) & open_statuses) and current

    return wait_until(done, timeout=timeout, interval=0.25)


@pytest.mark.parametrize("lane_processes", [False, True], ids=["lane-threads", "lane-processes"])
def test_killing_workers_mid_run_loses_nothing_and_duplicates_at_most_the_in_flight(
    rig, lane_processes
):
    make_customers(2000)
    smtp = rig.smtp
    fleet = rig(DELIVERY_LANE_PROCESSES=str(lane_processes).lower())
    notification = start_notification()
    kills, lanes_killed = 0, set()
    for threshold, name in ((400, "w0"), (1000, "w1")):
        wait_until(lambda t=threshold: smtp.handler.count >= t, timeout=90, interval=0.05)
        lanes = set(child_pids(fleet.workers[name].pid))
        fleet.kill(name)
        kills += 1
        lanes_killed |= lanes
        fleet.start_worker(name)
    if lane_processes:
        # The killed workers were sending, so their lanes were running; they
        # die with them instead of sending on unsupervised.
        assert lanes_killed
        wait_until(lambda: not any(process_running(pid) for pid in lanes_killed), timeout=5)
    result = wait_done(notification, timeout=120)
    received = Counter(r.to for r in smtp.received)
    duplicates = sum(received.values()) - len(received)
    # Each lane of a worker has at most one message in flight: the one
    # between the server accepting it and its row being marked.
    in_flight_at_kills = kills * settings.DELIVERY_LANES
    print(f"\nduplicates: {duplicates}; messages in flight at the kills: {in_flight_at_kills}")
    assert result == Counter({S.SENT: 2000})
    assert set(received) == set(Customer.objects.values_list("email", flat=True))
    assert duplicates <= in_flight_at_kills
    assert not Message.objects.filter(status=S.SENDING).exists()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.COMPLETED


def test_flaky_and_refusing_smtp_servers(rig):
    customers = make_customers(200)
    refused = {c.email for c in customers[:10]}
    smtp = rig.smtp
    smtp.handler.temp_fail_ratio = 0.10
    smtp.handler.drop_ratio = 0.05
    smtp.handler.reject = refused
    rig(DELIVERY_MAX_ATTEMPTS=10)
    notification = start_notification()
    wait_done(notification, timeout=120)
    messages = Message.objects.filter(notification=notification)
    failed = messages.filter(status=S.FAILED)
    assert set(failed.values_list("to_address", flat=True)) == refused
    assert set(failed.values_list("attempts", flat=True)) == {1}
    assert all(m.last_error.startswith("SMTP 550") for m in failed)
    delivered = messages.exclude(to_address__in=refused)
    assert set(delivered.values_list("status", flat=True)) == {S.SENT}
    retried = delivered.filter(attempts__gt=1).count()
    print(f"\nretried: {retried}; 451s: {smtp.handler.temp_failures}; drops: {smtp.handler.drops}")
    assert retried >= 10 and smtp.handler.drops > 0
    assert {r.to for r in smtp.received} == set(delivered.values_list("to_address", flat=True))


def test_restarting_redis_mid_run_loses_nothing(rig, tmp_path):
    make_customers(400)
    smtp = rig.smtp
    smtp.handler.delay = 0.004
    private = RedisServer(port=free_port(), data_dir=tmp_path)
    private.start()
    previous = broker_for_this_process(private.url)
    try:
        rig(broker_url=private.url)
        notification = start_notification()
        wait_until(lambda: smtp.handler.count >= 100, timeout=60, interval=0.05)
        private.restart()  # every queued task is gone with it
        result = wait_done(notification, timeout=120)
    finally:
        broker_for_this_process(previous)
        private.stop()
    assert result == Counter({S.SENT: 400})
    assert len({r.to for r in smtp.received}) == 400


def test_nothing_is_delivered_after_the_end(rig):
    make_customers(1000)
    smtp = rig.smtp
    # 25 ms per message: four connections (two workers, two lanes each) take
    # at most 160 a second, so some of the 1,000 are always left at the end.
    smtp.handler.delay = 0.025
    rig()
    end = timezone.now() + datetime.timedelta(seconds=5)
    notification = start_notification(end_at=end)
    result = wait_done(notification, timeout=60)
    late = [r for r in smtp.received if r.received_at > end.timestamp()]
    print(f"\n{result}; received after the end: {len(late)}")
    assert result[S.SENT] > 0 and result[S.EXPIRED] > 0
    assert set(result) == {S.SENT, S.EXPIRED}
    # A send that started before the end may finish a few ms after it.
    assert all(r.received_at <= end.timestamp() + 0.1 for r in smtp.received)
    last_sent = Message.objects.filter(status=S.SENT).order_by("-sent_at").first().sent_at
    assert last_sent <= end + datetime.timedelta(milliseconds=100)
    assert len(smtp.received) == result[S.SENT]
    notification.refresh_from_db()
    assert notification.status == Notification.Status.EXPIRED


def test_nothing_is_handed_to_the_server_after_a_cancel_commits(rig):
    make_customers(600)
    smtp = rig.smtp
    smtp.handler.delay = 0.005
    rig()
    notification = start_notification()
    wait_until(lambda: smtp.handler.count >= 100, timeout=60, interval=0.02)
    services.notification_cancel(notification=notification)
    committed_at = time.time()
    time.sleep(3)
    result = counts(notification)
    print(f"\n{result}")
    assert max(r.received_at for r in smtp.received) <= committed_at
    assert set(result) == {S.SENT, S.CANCELLED}
    assert len(smtp.received) == result[S.SENT]


def test_overlapping_audiences_never_mix_content_or_duplicate_rows(rig):
    make_customers(150, prefix="a", location="Moscow")
    make_customers(150, prefix="b", location="Kazan")
    rig()
    outage = start_notification(
        title="Outage for {{ customer.account_number }}",
        audience={"location": ["Moscow", "Kazan"]},
        channels=["email", "sms"],
    )
    works = start_notification(
        title="Works for {{ customer.account_number }}",
        body="Works, {{ customer.name }} ({{ customer.account_number }}).",
        audience={"location": ["Moscow"]},
    )
    # The seed's call for the same people again must not add rows.
    services.notification_send_to_customers(
        notification=works,
        customer_ids=list(Customer.objects.filter(location="Moscow").values_list("pk", flat=True)),
    )
    wait_done(outage, timeout=90)
    wait_done(works, timeout=90)
    assert Message.objects.filter(notification=outage).count() == 600
    assert Message.objects.filter(notification=works).count() == 150
    by_email = {c.email: c for c in Customer.objects.all()}
    subjects = Counter()
    for received in rig.smtp.received:
        customer = by_email[received.to]
        kind = received.subject.split(" ")[0]
        subjects[(received.to, kind)] += 1
        assert received.subject.endswith(customer.account_number)
        assert customer.account_number in received.text and customer.name in received.text
    assert all(n == 1 for n in subjects.values())
    assert len(subjects) == 450
    by_phone = {c.phone: c for c in Customer.objects.all()}
    texts = rig.gateway.received
    assert len(texts) == 300
    assert all(by_phone[t["phone"]].account_number in t["text"] for t in texts)
