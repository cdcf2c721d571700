"""Django's own mail (account approval, password resets) lands in the outbox
on the embedded default."""

import pytest
from django.core import mail

from delivery.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_send_mail_is_captured_in_the_outbox():
    assert mail.send_mail("Welcome", "You are approved.", None, ["new@example.com"]) == 1
    row = OutboxMessage.objects.get()
    assert (row.channel, row.to, row.subject, row.body) == (
        "email",
        "new@example.com",
        "Welcome",
        "You are approved.",
    )
    assert row.message is None and row.html == ""


def test_the_html_alternative_is_kept_and_recipients_are_joined():
    email = mail.EmailMultiAlternatives("Hi", "text", to=["a@example.com"], cc=["b@example.com"])
    email.attach_alternative("<p>text</p>", "text/html")
    email.send()
    row = OutboxMessage.objects.get()
    assert row.to == "a@example.com, b@example.com" and row.html == "<p>text</p>"


def test_a_message_without_recipients_is_not_stored():
    assert mail.EmailMessage("Nobody", "x", to=[]).send() == 0
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_message_whose_sent_mark_was_lost_goes_out_again_without_a_second_copy(channel):
    """The copy was committed, then the disk filled up (or the worker died)
    before the "sent" mark: after its lease the message is sent again, and
    the outbox, like a mail server that has it already, keeps one copy."""
    import datetime

    from django.conf import settings
    from django.utils import timezone

    from delivery import services
    from delivery.models import Message, MessageStatus

    if channel == "email":
        services.transactional_email_enqueue(to="ann@example.com", subject="Hi", body="Hello")
    else:
        services.transactional_sms_enqueue(to="+79001234567", text="Code 1234")
    services.message_batch_deliver()
    message = Message.objects.get()
    first_copy = OutboxMessage.objects.get(message=message)
    # The mark never reached the disk: the row is still claimed, its lease running.
    lease_end = timezone.now() + datetime.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, sent_at=None, next_attempt_at=lease_end
    )

    services.message_claims_expire(claimed_before=timezone.now())
    services.message_batch_deliver()

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2
    assert list(OutboxMessage.objects.filter(message=message)) == [first_copy]
    if channel == "sms":
        assert message.provider_id == f"outbox-{first_copy.pk}"
