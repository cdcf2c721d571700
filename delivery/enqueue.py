"""Writing Message rows: the public way in. A notification's audience is
materialised with one INSERT … SELECT per channel; account, ticket and
report emails are queued as transactional messages; a test copy is written
and sent at once. Every write nudges the dispatcher (delivery.dispatch)."""

import logging
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from delivery import suppression
from delivery.dispatch import message_nudge_on_commit
from delivery.models import Channel, Message, MessageStatus
from delivery.recording import log_event
from delivery.sending import message_deliver_now

logger = logging.getLogger("proactive.delivery")


@dataclass(frozen=True)
class TransactionalEmail:
    to: str
    subject: str
    body: str
    html: str = ""
    customer: object = None  # the customers.Customer it is about, if any


def transactional_emails_enqueue(*, emails: list[TransactionalEmail]) -> list[Message]:
    """Queue emails that belong to no notification (ticket updates, account
    approval, reports) with one INSERT and one nudge: a ticket change often
    tells the customer and the engineer at once. They go through the same
    pipeline: retried on transient errors, no contact window."""
    now = timezone.now()
    messages = Message.objects.bulk_create(
        Message(
            customer=email.customer,
            channel=Channel.EMAIL,
            to_address=email.to,
            subject=email.subject.replace("\r", " ").replace("\n", " "),
            body=email.body,
            html=email.html,
            status=MessageStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for email in emails
    )
    for message in messages:
        log_event(message, "queued", status=message.status, to=message.to_address)
    if messages:
        message_nudge_on_commit()
    return messages


def transactional_email_enqueue(
    *, to: str, subject: str, body: str, html: str = "", customer=None
) -> Message:
    """Queue one such email."""
    email = TransactionalEmail(to=to, subject=subject, body=body, html=html, customer=customer)
    [message] = transactional_emails_enqueue(emails=[email])
    return message


def transactional_sms_enqueue(*, to: str, text: str, customer=None) -> Message:
    now = timezone.now()
    message = Message.objects.create(
        customer=customer,
        channel=Channel.SMS,
        to_address=to,
        body=text,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    log_event(message, "queued", status=message.status, to=to)
    message_nudge_on_commit()
    return message


def messages_materialise(
    *, notification, customers: QuerySet, channels: list[str], fresh: bool = False
) -> int:
    """Write one Message row per (customer, channel) with a single
    INSERT … SELECT per channel; rows that already exist are left alone.
    Opted-out customers, inactive ones, missing addresses, listed addresses
    and (for marketing) customers without marketing consent get `suppressed`
    rows with the reason, so the statistics account for everyone. Customers
    unreachable on the notification's channel then get one row on its
    fallback channel. Returns the number of rows written.

    `fresh`: the caller holds the notification's row lock and it has no
    messages yet, so the conflict check (a second pass over the unique index
    for every row) can be skipped; the unique constraint still stands guard."""
    subquery, sub_params = customers.order_by().values("pk").query.sql_with_params()
    marketing = getattr(notification, "category", "service") == "marketing"
    written = 0
    for channel in channels:
        sql, params = suppression.messages_insert_sql(
            notification_id=notification.pk,
            channel=channel,
            marketing=marketing,
            customers_sql=subquery,
            customers_params=list(sub_params),
            on_conflict="" if fresh else "ON CONFLICT DO NOTHING",
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            written += max(cursor.rowcount, 0)
    written += suppression.fallback_materialise(
        notification=notification, customers_sql=subquery, customers_params=list(sub_params)
    )
    logger.info(
        "messages materialised",
        extra={"notification_id": notification.pk, "written": written, "channels": channels},
    )
    message_nudge_on_commit()
    return written


def message_test_copy_send(
    *, channel: str, to_address: str, subject: str, text: str, html: str = ""
) -> Message:
    """Write one already rendered copy that belongs to no notification (so
    it is outside the statistics) and send it now, in this process."""
    message = Message.objects.create(
        channel=channel,
        to_address=to_address,
        subject=subject,
        body=text,
        html=html,
        status=MessageStatus.PENDING,
        next_attempt_at=timezone.now(),
    )
    return message_deliver_now(message=message)
