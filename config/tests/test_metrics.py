"""/metrics: Prometheus text, behind METRICS_TOKEN (or an address allow-list),
with figures read from the database so every process answers the same."""

import datetime
import re

import pytest
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus
from delivery.tests.conftest import started
from delivery.tests.sinks import SmsGatewaySink
from notifications.models import Notification

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-metrics-token-of-some-length"


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
    settings.SMS_GATEWAY_URL = ""
    return settings


def scrape(**headers) -> str:
    response = Client().get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def value(text: str, name: str, **labels) -> float:
    label_text = ",".join(f'{key}="{val}"' for key, val in labels.items())
    pattern = re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" (\S+)"
    match = re.search(rf"^{pattern}$", text, re.MULTILINE)
    assert match, f"{name} {labels} not in:\n{text}"
    return float(match.group(1))


def authorised() -> str:
    return scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")


def test_it_answers_401_without_credentials_and_403_with_a_wrong_token(metrics_settings):
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert b"METRICS_TOKEN" in anonymous.content
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 403
    assert "proactive_" in authorised()


def test_it_refuses_every_token_while_none_is_configured(metrics_settings):
    metrics_settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 403
    assert Client().get("/metrics").status_code == 401


def test_an_allowed_address_needs_no_token_and_others_still_do(metrics_settings):
    metrics_settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16", "not-an-address"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 401
    # A forwarded header is the client's word, not its address.
    forged = Client(REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert forged.get("/metrics").status_code == 401


def test_it_is_not_in_the_api_schema(admin_client_api):
    schema = admin_client_api.get("/api/schema/?format=json").json()
    assert not [path for path in schema["paths"] if "metrics" in path]


def test_only_get_is_allowed(metrics_settings):
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


def _notification(**fields) -> Notification:
    values = {"title": "Notice", "body": "Dear {{ customer.name }}", "channels": ["email"]}
    return started(Notification.objects.create(**{**values, **fields}))


def _customers(count: int, **fields) -> list[Customer]:
    return Customer.objects.bulk_create(
        Customer(
            account_number=f"MET-{n:04d}",
            name=f"Metric {n}",
            email=f"m{n}@example.com",
            phone=f"+7901{n:07d}",
            contact_window_start=datetime.time(0, 0),
            contact_window_end=datetime.time(0, 0),
            **fields,
        )
        for n in range(count)
    )


def test_it_counts_what_the_workers_sent_failed_and_deferred_per_channel(
    metrics_settings,
):
    customers = _customers(5)
    # Customer 1's contact window is closed now: deferred on both channels.
    now = timezone.localtime(timezone.now(), datetime.UTC)
    Customer.objects.filter(pk=customers[1].pk).update(
        contact_window_start=(now + datetime.timedelta(hours=2)).time().replace(microsecond=0),
        contact_window_end=(now + datetime.timedelta(hours=3)).time().replace(microsecond=0),
    )
    notification = _notification(channels=["email", "sms"])
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email", "sms"]
    )
    before = authorised()
    assert value(before, "proactive_messages_sent_total", channel="email") == 0
    assert value(before, "proactive_due_messages") == 10
    # The gateway refuses customer 0's number for good.
    with SmsGatewaySink(token="t0ken", reject={customers[0].phone}) as gateway:
        metrics_settings.SMS_GATEWAY_URL = gateway.url
        metrics_settings.SMS_GATEWAY_TOKEN = "t0ken"
        services.message_batch_deliver()
    after = authorised()
    assert value(after, "proactive_messages_sent_total", channel="email") == 4
    assert value(after, "proactive_messages_deferred_total", channel="email") == 1
    assert value(after, "proactive_messages_failed_total", channel="email") == 0
    assert value(after, "proactive_messages_sent_total", channel="sms") == 3
    assert value(after, "proactive_messages_failed_total", channel="sms") == 1
    assert value(after, "proactive_messages_deferred_total", channel="sms") == 1
    # Every handover to the mail server or gateway was timed, per channel.
    assert value(after, "proactive_send_latency_seconds_count", channel="email") == 4
    assert value(after, "proactive_send_latency_seconds_count", channel="sms") == 4
    assert value(after, "proactive_send_latency_seconds_bucket", channel="sms", le="+Inf") == 4
    assert value(after, "proactive_send_latency_seconds_sum", channel="sms") > 0
    # The deferred ones wait for their window: nothing is due now.
    assert value(after, "proactive_due_messages") == 0
    assert value(after, "proactive_oldest_due_message_age_seconds") == 0
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 7


def test_it_reports_the_age_of_the_oldest_due_message(metrics_settings):
    _customers(3)
    notification = _notification()
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    Message.objects.filter(pk=Message.objects.first().pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(minutes=10)
    )
    Message.objects.filter(pk=Message.objects.last().pk).update(
        next_attempt_at=timezone.now() + datetime.timedelta(hours=1)
    )
    text = authorised()
    assert value(text, "proactive_due_messages") == 2
    assert value(text, "proactive_due_messages_is_estimate") == 0
    assert 600 <= value(text, "proactive_oldest_due_message_age_seconds") < 660


def test_it_reports_open_tickets_by_status_and_sla_breaches(metrics_settings, admin_user):
    from tickets.models import Status, Ticket

    [customer] = _customers(1)
    now = timezone.now()
    for status, due in (
        (Status.OPEN, now - datetime.timedelta(hours=1)),
        (Status.OPEN, now + datetime.timedelta(hours=1)),
        (Status.IN_PROGRESS, now - datetime.timedelta(hours=2)),
        (Status.RESOLVED, now - datetime.timedelta(hours=3)),
    ):
        Ticket.objects.create(title="t", customer=customer, status=status, due_at=due)
    text = authorised()
    assert value(text, "proactive_tickets_open", status="open") == 2
    assert value(text, "proactive_tickets_open", status="in_progress") == 1
    assert value(text, "proactive_tickets_open", status="on_hold") == 0
    assert 'status="resolved"' not in text
    # Resolved tickets past their due time are not breaches any more.
    assert value(text, "proactive_tickets_sla_breached") == 2
