"""A message that renders larger than RENDERED_MESSAGE_MAX_BYTES is never
mailed: it fails, and its delivery record says why."""

import pytest

from customers.models import Customer
from delivery import services
from delivery.models import Message, MessageStatus, OutboxMessage
from delivery.tests.conftest import started

pytestmark = pytest.mark.django_db

# Each customer's name, once per character of it: a long name makes it huge.
SQUARED_NAME = "{% for c in customer.name %}{{ customer.name }}{% endfor %}"


def test_it_fails_a_message_that_renders_over_the_cap_instead_of_mailing_it(
    make_customer, make_notification, settings
):
    settings.RENDERED_MESSAGE_MAX_BYTES = 4096
    short = make_customer(name="Ann")
    long = make_customer(name="X" * 200)  # 200 × 200 bytes = 40 KB
    notification = started(make_notification(title="Hello", body=SQUARED_NAME))
    services.messages_materialise(
        notification=notification,
        customers=Customer.objects.filter(pk__in=[short.pk, long.pk]),
        channels=["email"],
    )
    services.message_batch_deliver()
    big = Message.objects.get(customer=long)
    assert big.status == MessageStatus.FAILED
    assert "over the limit of 4096 bytes" in big.last_error
    assert "RENDERED_MESSAGE_MAX_BYTES" in big.last_error
    assert Message.objects.get(customer=short).status == MessageStatus.SENT
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == [short.email]
