"""Delivery tells notifications what happened through a hook, never by
calling it; a test copy goes out once even when a drain claims it too."""

import pytest
from django.utils import timezone

from customers.models import Customer
from delivery import hooks, services
from delivery.models import Message, MessageStatus, OutboxMessage
from delivery.tests.conftest import started

pytestmark = pytest.mark.django_db


@pytest.fixture
def notification(make_customer, make_notification):
    """A started notification with one email written, to one customer."""
    notification = started(make_notification())
    services.messages_materialise(
        notification=notification,
        customers=Customer.objects.filter(pk=make_customer().pk),
        channels=["email"],
    )
    return notification


@pytest.fixture
def copy_to_me():
    """A test copy as compose writes it: no notification, due now."""
    return Message.objects.create(
        channel="email",
        to_address="me@example.com",
        subject="[Test] Hi",
        body="Hello",
        next_attempt_at=timezone.now(),
    )


def test_a_batch_tells_the_hook_which_notifications_it_touched(notification):
    heard = []

    def receiver(*, notification_ids):
        heard.append(notification_ids)

    hooks.notifications_touched.connect(receiver)
    try:
        services.message_batch_deliver()
    finally:
        hooks.notifications_touched.disconnect(receiver)
    assert heard == [[notification.pk]]


def test_notifications_finishes_through_the_hook(notification):
    services.message_batch_deliver()
    notification.refresh_from_db()
    assert notification.status == notification.Status.COMPLETED


def test_a_copy_a_drain_claimed_first_is_not_sent_again_by_deliver_now(copy_to_me):
    assert services.message_claim_batch() == [copy_to_me.pk]  # a drain got there first
    returned = services.message_deliver_now(message=copy_to_me)
    assert returned.status == MessageStatus.SENDING and returned.attempts == 1
    assert not OutboxMessage.objects.exists()


def test_deliver_now_sends_a_copy_nobody_else_claimed(copy_to_me):
    returned = services.message_deliver_now(message=copy_to_me)
    assert returned.status == MessageStatus.SENT and returned.attempts == 1
    assert OutboxMessage.objects.get().to == "me@example.com"
