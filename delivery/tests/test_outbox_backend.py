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
