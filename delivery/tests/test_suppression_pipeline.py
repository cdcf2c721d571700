"""Suppressed recipients: decided by a join when the rows are written, with
the reason in last_error; a mailbox the server refuses goes on the list;
fallback to the other channel exactly once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus, OutboxMessage, Suppression
from delivery.tests.conftest import started
from delivery.tests.sinks import SmtpSink

pytestmark = pytest.mark.django_db

S = MessageStatus


def materialise(notification):
    return services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=notification.channels
    )


def test_a_listed_address_gets_a_suppressed_message_with_the_reason(
    make_customer, make_notification
):
    listed = make_customer(email="Gone@Example.com")
    fine = make_customer()
    Suppression.objects.create(channel="email", address="gone@example.com", reason="hard_bounce")
    notification = started(make_notification())
    with CaptureQueriesContext(connection) as queries:
        materialise(notification)
    inserts = [q for q in queries.captured_queries if q["sql"].lstrip().startswith("INSERT")]
    assert len(inserts) == 1  # one statement for the whole audience
    services.message_batch_deliver()
    skipped = Message.objects.get(customer=listed)
    assert skipped.status == S.SUPPRESSED
    assert skipped.last_error == "The address is on the suppression list: hard_bounce."
    assert Message.objects.get(customer=fine).status == S.SENT
    assert [o.to for o in OutboxMessage.objects.all()] == [fine.email]


def test_suppressed_messages_are_counted_in_the_statistics(
    make_customer, make_notification, admin_client_api
):
    make_customer(email="gone@example.com")
    make_customer()
    Suppression.objects.create(channel="email", address="gone@example.com", reason="complaint")
    notification = started(make_notification())
    materialise(notification)
    stats = admin_client_api.get(f"/api/notifications/{notification.pk}/stats/").json()
    assert stats["total"] == 2
    assert stats["by_status"]["suppressed"] == 1 and stats["by_status"]["pending"] == 1


def test_a_550_on_rcpt_fails_the_message_and_lists_the_address(
    make_customer, make_notification, settings
):
    gone = make_customer(email="nobody@example.com")
    make_customer(email="ann@example.com")
    with SmtpSink(reject={"nobody@example.com"}) as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        materialise(started(make_notification()))
        services.message_batch_deliver()
        assert [r.to for r in sink.received] == ["ann@example.com"]
    failed = Message.objects.get(customer=gone)
    assert failed.status == S.FAILED and failed.last_error.startswith("SMTP 550")
    entry = Suppression.objects.get()
    assert (entry.channel, entry.address, entry.reason) == (
        "email",
        "nobody@example.com",
        "hard_bounce",
    )
    assert "550" in entry.detail
    # The next notification does not try the dead mailbox again.
    later = started(make_notification(title="Maintenance"))
    materialise(later)
    assert Message.objects.get(notification=later, customer=gone).status == S.SUPPRESSED


def test_a_customer_without_email_gets_one_sms_instead(make_customer, make_notification):
    no_email = make_customer(email="")
    opted_out = make_customer(email_opt_in=False)
    both_gone = make_customer(email="", phone="")
    reachable = make_customer()
    notification = started(make_notification(fallback_channel="sms"))
    materialise(notification)
    materialise(notification)  # running again writes nothing twice
    rows = {(m.customer_id, m.channel): m.status for m in Message.objects.all()}
    assert rows == {
        (no_email.pk, "email"): S.SUPPRESSED,
        (no_email.pk, "sms"): S.PENDING,
        (opted_out.pk, "email"): S.SUPPRESSED,
        (opted_out.pk, "sms"): S.PENDING,
        (both_gone.pk, "email"): S.SUPPRESSED,
        (reachable.pk, "email"): S.PENDING,
    }
    services.message_batch_deliver()
    sms = OutboxMessage.objects.filter(channel="sms")
    assert sorted(o.to for o in sms) == sorted([no_email.phone, opted_out.phone])


def test_a_notification_on_both_channels_ignores_its_fallback(make_customer, make_notification):
    customer = make_customer(email="")
    notification = started(make_notification(channels=["email", "sms"], fallback_channel="sms"))
    materialise(notification)
    assert Message.objects.filter(customer=customer, channel="sms").count() == 1


def test_a_permanent_failure_falls_back_to_sms_once(make_customer, make_notification, settings):
    customer = make_customer(email="nobody@example.com")
    notification = started(make_notification(fallback_channel="sms"))
    with SmtpSink(reject={"nobody@example.com"}) as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        materialise(notification)
        services.message_batch_deliver()
        services.message_batch_deliver()  # the fallback SMS goes in the same run
    rows = {m.channel: m.status for m in Message.objects.filter(customer=customer)}
    assert rows == {"email": S.FAILED, "sms": S.SENT}
    assert OutboxMessage.objects.filter(channel="sms", to=customer.phone).count() == 1
    notification.refresh_from_db()
    assert notification.status == "completed"


def test_a_notices_rows_are_written_in_customer_order(postgres, make_customer, make_notification):
    """So an incident's notices line up range for range of message ids (a
    supersession reads the newer notice's rows in the order it marks the
    older one's), whatever order the database finds the customers in."""
    customers = [make_customer(name=f"Customer {letter}") for letter in "FEDCBA"]
    with connection.cursor() as cursor:
        # Lay the table out in name order, the reverse of the ids (the
        # deferred checks of the inserts first: no rewrite with them pending).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("CREATE INDEX customer_by_name_for_test ON customers_customer (name)")
        cursor.execute("CLUSTER customers_customer USING customer_by_name_for_test")
        cursor.execute(
            "SELECT id FROM customers_customer WHERE id + 0 = ANY(%s)", [[c.pk for c in customers]]
        )
        assert [row[0] for row in cursor.fetchall()] == [c.pk for c in reversed(customers)]
    notification = started(make_notification(channels=["email", "sms"]))
    materialise(notification)
    for channel in ("email", "sms"):
        rows = Message.objects.filter(notification=notification, channel=channel).order_by("pk")
        assert [m.customer_id for m in rows] == [c.pk for c in customers]
