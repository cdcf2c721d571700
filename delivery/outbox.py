"""The embedded default's "transport": email and SMS are stored in the
outbox table instead of leaving the machine."""

from email.utils import formatdate

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
    when signing is configured. Without signing they are written down
    directly: building the whole MIME message for them would double the
    cost of capturing an email."""
    if dkim_enabled():
        message = email.message()
        headers = {name: str(value) for name, value in message.items()}
        signature = dkim_signature(message.as_bytes(linesep="\r\n")).decode("ascii")
        name, _, value = signature.partition(":")
        return {name: " ".join(value.split()), **headers}
    alternative = bool(email_html_part(email))
    return {
        "Content-Type": "multipart/alternative" if alternative else 'text/plain; charset="utf-8"',
        "MIME-Version": "1.0",
        "Subject": str(email.subject),
        "From": str(email.from_email),
        "To": ", ".join(email.to),
        "Date": formatdate(localtime=False),
        **{name: str(value) for name, value in email.extra_headers.items()},
    }


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
