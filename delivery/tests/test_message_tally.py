"""The per-notification counts the statistics read (delivery.MessageTally)
are kept by the database itself: whatever writes the messages (the bulk
materialisation, a worker's claim and records, a retry, a cancel, a
supersession, an expiry, raw SQL), the tally equals a full count of the
rows, in the same transaction. Deleting rows (retention) keeps the counts."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus, MessageTally
from delivery.tests.conftest import started
from delivery.tests.tally_check import counted, tallied
from notifications import selectors
from notifications import services as notification_services
from notifications.models import Notification

pytestmark = pytest.mark.django_db

S = MessageStatus


def materialise(notification, customers=None):
    return services.messages_materialise(
        notification=notification,
        customers=customers if customers is not None else Customer.objects.all(),
        channels=notification.channels,
    )


def test_the_tally_equals_a_full_count_after_every_kind_of_write(make_customer, make_notification):
    for i in range(6):
        make_customer(email=f"c{i}@example.com", phone=f"+7900100000{i}")
    make_customer(email="", phone="", is_active=False)  # suppressed rows
    first = started(make_notification(channels=["email", "sms"]))
    materialise(first)
    assert tallied() == counted()
    assert tallied()[(first.pk, "email", S.PENDING)] == 6

    services.message_batch_deliver(limit=4)  # a worker's claim and records
    assert tallied() == counted()
    assert sum(n for (pk, _, status), n in tallied().items() if status == S.SENT) == 4

    # Raw SQL, as the claim and the recorder write on PostgreSQL.
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s WHERE notification_id = %s AND status = %s",  # noqa: S608
            [S.DEFERRED, first.pk, S.PENDING],
        )
    assert tallied() == counted()

    newer = started(make_notification(channels=["email", "sms"]))
    materialise(newer)
    services.messages_supersede(newer_notification_id=newer.pk, older_notification_ids=[first.pk])
    assert tallied()[(first.pk, "email", S.SUPERSEDED)] > 0
    assert tallied() == counted()

    notification_services.notification_cancel(notification=newer)
    assert tallied() == counted()
    assert (newer.pk, "email", S.PENDING) not in tallied()

    ending = started(make_notification(end_at=timezone.now() - datetime.timedelta(minutes=1)))
    materialise(ending)
    notification_services.notification_expire_ended(now=timezone.now())
    assert tallied()[(ending.pk, "email", S.EXPIRED)] == 6
    assert tallied() == counted()

    # Transactional messages belong to no notification and are not tallied.
    services.transactional_email_enqueue(to="ann@example.com", subject="s", body="b")
    assert tallied() == counted()


def test_a_status_change_to_the_same_status_and_other_updates_change_nothing(
    make_customer, make_notification
):
    make_customer()
    notification = started(make_notification())
    materialise(notification)
    before = tallied()
    Message.objects.filter(notification=notification).update(status=S.PENDING, attempts=3)
    Message.objects.filter(notification=notification).update(to_address="x@example.com")
    assert tallied() == before == counted()


def test_the_statistics_read_the_tally_and_keep_their_counts_once_the_rows_are_gone(
    make_customer, make_notification
):
    for i in range(3):
        make_customer(email=f"c{i}@example.com")
    notification = started(make_notification())
    materialise(notification)
    services.message_batch_deliver()
    stats = selectors.notification_stats(notification=notification)
    assert stats["by_status"][S.SENT] == 3 and stats["total"] == 3
    sent_at = sorted(Message.objects.values_list("sent_at", flat=True))
    assert (stats["first_sent_at"], stats["last_sent_at"]) == (sent_at[0], sent_at[-1])
    assert selectors.notification_totals(notification_ids=[notification.pk]) == {
        notification.pk: {"total": 3, "by_status": stats["by_status"]}
    }
    Message.objects.filter(notification=notification).delete()
    assert selectors.notification_stats(notification=notification) == stats


def test_a_notification_deleted_takes_its_tally_with_it(make_customer, make_notification):
    make_customer()
    notification = make_notification()
    materialise(notification)
    assert MessageTally.objects.filter(notification=notification).exists()
    Notification.objects.filter(pk=notification.pk).delete()
    assert not MessageTally.objects.exists()
