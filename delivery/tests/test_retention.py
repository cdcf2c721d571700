"""Retention: the nightly purge deletes what is over and older than
MESSAGE_RETENTION_DAYS, in batches, and nothing of a notification still
going on; the statistics keep their counts."""

import datetime

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from customers.models import Customer
from delivery import retention, services
from delivery.models import Message, MessageStatus, OutboxMessage
from delivery.tests.conftest import started
from notifications import selectors
from notifications.models import Notification

pytestmark = pytest.mark.django_db

S = MessageStatus
Status = Notification.Status


def long_ago(days: int = 0) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=django_settings.MESSAGE_RETENTION_DAYS + days)


def sent_notification(make_notification, *, status: str, finished_at=None) -> Notification:
    notification = started(make_notification())
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    services.message_batch_deliver()
    Notification.objects.filter(pk=notification.pk).update(status=status, finished_at=finished_at)
    notification.refresh_from_db()
    return notification


@pytest.fixture
def customers(make_customer):
    return [make_customer(email=f"c{i}@example.com") for i in range(5)]


def test_the_retention_is_400_days_unless_the_environment_says_otherwise():
    assert django_settings.MESSAGE_RETENTION_DAYS == 400
    schedule = django_settings.CELERY_BEAT_SCHEDULE["purge-old-messages"]
    assert schedule["task"] == "delivery.tasks.purge_old_messages"


def test_a_finished_notification_older_than_the_retention_loses_its_rows_not_its_counts(
    customers, make_notification
):
    old = sent_notification(make_notification, status=Status.COMPLETED, finished_at=long_ago(1))
    recent = sent_notification(make_notification, status=Status.COMPLETED, finished_at=long_ago(-1))
    stats = selectors.notification_stats(notification=old)
    assert stats["by_status"][S.SENT] == 5
    OutboxMessage.objects.update(created_at=long_ago(1))

    result = retention.messages_purge(batch=2)  # three batches for five rows

    assert result.messages == 5 and result.notifications == 1 and result.outbox == 10
    assert not Message.objects.filter(notification=old).exists()
    assert Message.objects.filter(notification=recent).count() == 5
    assert selectors.notification_stats(notification=old) == stats
    assert selectors.notification_totals(notification_ids=[old.pk])[old.pk]["total"] == 5
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("status", [Status.SENDING, Status.SCHEDULED, Status.DRAFT])
def test_nothing_of_an_unfinished_notification_is_ever_purged(customers, make_notification, status):
    notification = sent_notification(make_notification, status=status, finished_at=long_ago(30))
    Message.objects.update(created_at=long_ago(30), updated_at=long_ago(30))
    OutboxMessage.objects.update(created_at=long_ago(30))
    rows, copies = Message.objects.count(), OutboxMessage.objects.count()

    retention.messages_purge()

    assert Message.objects.filter(notification=notification).count() == rows == 5
    assert OutboxMessage.objects.count() == copies == 5


def test_old_transactional_messages_go_unless_still_waiting_to_be_sent():
    done = services.transactional_email_enqueue(to="a@example.com", subject="s", body="b")
    services.message_batch_deliver()
    waiting = services.transactional_email_enqueue(to="b@example.com", subject="s", body="b")
    fresh = services.transactional_email_enqueue(to="c@example.com", subject="s", body="b")
    Message.objects.filter(pk__in=[done.pk, waiting.pk]).update(created_at=long_ago(1))
    copy = OutboxMessage.objects.get(message=done)
    OutboxMessage.objects.filter(pk=copy.pk).update(created_at=long_ago(-1))  # a newer copy
    unlinked = OutboxMessage.objects.create(channel="email", to="d@example.com")
    OutboxMessage.objects.filter(pk=unlinked.pk).update(created_at=long_ago(1))

    result = retention.messages_purge()

    assert result.transactional == 1 and result.outbox == 1
    assert not OutboxMessage.objects.filter(pk=unlinked.pk).exists()
    assert set(Message.objects.values_list("pk", flat=True)) == {waiting.pk, fresh.pk}
    copy.refresh_from_db()
    assert copy.message_id is None  # the copy outlives its message until its own time


def test_the_nightly_task_runs_the_purge(customers, make_notification):
    from delivery.tasks import purge_old_messages

    sent_notification(make_notification, status=Status.CANCELLED, finished_at=long_ago(1))
    assert purge_old_messages() == 5
    assert not Message.objects.exists()
