"""The embedded default's "transport": email and SMS are stored in the
outbox table instead of leaving the machine."""

from django.core.mail.backends.base import BaseEmailBackend

from delivery.dkim import dkim_enabled, dkim_signature
from delivery.models import Channel, OutboxMessage


def email_html_part(email) -> str:
    for content, mimetype in getattr(email, "alternatives", None) or []:
        if mimetype == "text/html":
            return content
    return ""


def email_headers(email) -> dict[str, str]:
    """Every header of the email as it would leave, DKIM signature included
    when signing is configured."""
    message = email.message()
    headers = {name: str(value) for name, value in message.items()}
    if dkim_enabled():
        signature = dkim_signature(message.as_bytes(linesep="\r\n")).decode("ascii")
        name, _, value = signature.partition(":")
        headers = {name: " ".join(value.split()), **headers}
    return headers


class OutboxEmailBackend(BaseEmailBackend):
    """A Django email backend that writes each EmailMessage to the outbox.

    The delivery pipeline tags the EmailMessage with `proactive_message_id`
    so the outbox row links back to its Message."""

    def send_messages(self, email_messages) -> int:
        rows = [
            OutboxMessage(
                channel=Channel.EMAIL,
                to=", ".join(email.recipients())[:1000],
                subject=str(email.subject),
                body=str(email.body),
                html=email_html_part(email),
                headers=email_headers(email),
                message_id=getattr(email, "proactive_message_id", None),
            )
            for email in email_messages
            if email.recipients()
        ]
        OutboxMessage.objects.bulk_create(rows)
        return len(rows)
