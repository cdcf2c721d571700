"""What a recipient's mail client sees: Message-ID on the sending domain,
one-click unsubscribe on marketing, Auto-Submitted and a preferences link on
service mail; and who marketing reaches at all."""

import re

import pytest

from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus, OutboxMessage
from delivery.tests.conftest import started

pytestmark = pytest.mark.django_db

S = MessageStatus


def deliver(notification):
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=notification.channels
    )
    services.message_batch_deliver()


def link(body: str, kind: str) -> str:
    found = re.search(rf"http://localhost:8000(/{kind}/[^/\s]+/)", body)
    assert found, f"no {kind} link in {body!r}"
    return found.group(1)


def test_it_marks_a_service_email_auto_generated_with_a_preferences_link(
    make_customer, make_notification, client
):
    customer = make_customer(email="ann@example.com")
    notification = started(make_notification())
    deliver(notification)
    outbox = OutboxMessage.objects.get()
    assert outbox.headers["Auto-Submitted"] == "auto-generated"
    assert "List-Unsubscribe" not in outbox.headers
    assert "List-Unsubscribe-Post" not in outbox.headers
    assert (
        outbox.headers["Message-ID"]
        == f"<notification-{notification.pk}.customer-{customer.pk}@proactive.local>"
    )
    assert outbox.headers["Subject"].startswith("Outage at")
    page = client.get(link(outbox.body, "preferences"))
    assert page.status_code == 200
    assert b"Customer" in page.content and b'name="marketing_opt_in"' in page.content
    assert link(outbox.html, "preferences") == link(outbox.body, "preferences")


def test_it_gives_marketing_email_one_click_unsubscribe_headers(make_customer, make_notification):
    customer = make_customer(marketing_opt_in=True)
    deliver(started(make_notification(category="marketing", title="Faster plans")))
    outbox = OutboxMessage.objects.get()
    assert outbox.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click, mailto = re.fullmatch(r"<(.+)>, <(.+)>", outbox.headers["List-Unsubscribe"]).groups()
    assert one_click.startswith("http://localhost:8000/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe@proactive.local?subject=")
    assert "Auto-Submitted" not in outbox.headers
    assert link(outbox.body, "unsubscribe") == one_click.removeprefix("http://localhost:8000")
    assert Message.objects.get().customer == customer


def test_marketing_reaches_only_customers_who_opted_in(make_customer, make_notification):
    keen = make_customer(marketing_opt_in=True)
    quiet = make_customer()
    deliver(started(make_notification(category="marketing", title="Offers")))
    assert Message.objects.get(customer=keen).status == S.SENT
    skipped = Message.objects.get(customer=quiet)
    assert skipped.status == S.SUPPRESSED
    assert skipped.last_error == "The customer has not agreed to marketing messages."
    assert [o.to for o in OutboxMessage.objects.all()] == [keen.email]


def test_a_customer_who_unsubscribes_after_the_rows_are_written_is_not_sent(
    make_customer, make_notification
):
    customer = make_customer(marketing_opt_in=True)
    notification = started(make_notification(category="marketing", title="Offers"))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    Customer.objects.filter(pk=customer.pk).update(marketing_opt_in=False)
    services.message_batch_deliver()
    assert Message.objects.get().status == S.SUPPRESSED
    assert not OutboxMessage.objects.exists()


def test_it_puts_message_ids_on_the_configured_domain(make_customer, make_notification, settings):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "mail.example.net"
    customer = make_customer()
    notification = started(make_notification())
    deliver(notification)
    message = Message.objects.get()
    expected = f"<notification-{notification.pk}.customer-{customer.pk}@mail.example.net>"
    assert message.provider_id == expected
    assert OutboxMessage.objects.get().headers["Message-ID"] == expected


def test_an_email_of_no_notification_has_a_message_id_of_its_own(settings):
    settings.DEFAULT_FROM_EMAIL = "Support <help@isp.example>"
    message = services.transactional_email_enqueue(to="ann@example.com", subject="Hi", body="x")
    services.message_batch_deliver()
    headers = OutboxMessage.objects.get().headers
    assert headers["Message-ID"] == f"<message-{message.pk}@isp.example>"
    assert headers["Auto-Submitted"] == "auto-generated"


def test_the_outbox_api_shows_every_header(make_customer, make_notification, admin_client_api):
    make_customer(marketing_opt_in=True)
    deliver(started(make_notification(category="marketing", title="Offers")))
    item = admin_client_api.get("/api/outbox/").json()["results"][0]
    for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
        assert item["headers"][name], name


def test_a_customer_changes_their_marketing_consent_on_their_own_record(customer_client):
    response = customer_client.patch(
        "/api/customers/me/", {"marketing_opt_in": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["marketing_opt_in"] is True
    bad = customer_client.patch("/api/customers/me/", {"marketing_opt_in": "maybe"}, format="json")
    assert bad.status_code == 400 and "marketing_opt_in" in bad.json()
    assert customer_client.get("/api/customers/me/").json()["marketing_opt_in"] is True


def test_staff_set_marketing_consent_through_the_directory(admin_client_api, make_customer):
    customer = make_customer()
    response = admin_client_api.patch(
        f"/api/customers/{customer.pk}/", {"marketing_opt_in": True}, format="json"
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.marketing_opt_in is True
