"""Several transactional emails queued at once: one row each, delivered like
a single one, and the dispatcher nudged once after commit."""

import pytest

from delivery import services
from delivery.models import Message, MessageStatus, OutboxMessage

pytestmark = pytest.mark.django_db


def test_it_queues_one_pending_row_per_email_and_delivers_them(make_customer):
    customer = make_customer()
    queued = services.transactional_emails_enqueue(
        emails=[
            services.TransactionalEmail(
                to="ann@example.com",
                subject="[T-1] Received\r\nyour request",
                body="Hi",
                customer=customer,
            ),
            services.TransactionalEmail(to="eric@example.com", subject="[T-1] Assigned", body="Go"),
        ]
    )
    assert [m.pk for m in queued] == list(
        Message.objects.order_by("pk").values_list("pk", flat=True)
    )
    ann, eric = Message.objects.order_by("pk")
    assert (ann.status, ann.notification, ann.customer) == (MessageStatus.PENDING, None, customer)
    assert ann.subject == "[T-1] Received  your request"
    assert eric.customer is None
    services.message_batch_deliver()
    (ann_copy, ann_body), (eric_copy, eric_body) = sorted(
        OutboxMessage.objects.values_list("to", "body")
    )
    assert (ann_copy, eric_copy, eric_body) == ("ann@example.com", "eric@example.com", "Go")
    # The customer's copy ends with the link to their preferences; staff mail does not.
    assert ann_body.startswith("Hi\n") and "/preferences/" in ann_body


def test_it_nudges_the_dispatcher_once_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.transactional_emails_enqueue(
            emails=[
                services.TransactionalEmail(to=f"{name}@example.com", subject="s", body="b")
                for name in ("ann", "bob", "cid")
            ]
        )
    assert len(callbacks) == 1
    assert Message.objects.count() == 3


def test_nothing_is_queued_or_nudged_for_no_emails(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.transactional_emails_enqueue(emails=[]) == []
    assert callbacks == []
    assert not Message.objects.exists()
