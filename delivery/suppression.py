"""Who is not sent to, decided for a whole notification at once.

The materialising INSERT … SELECT joins the suppression list and reads the
customer's consents, so suppressed rows are written with their reason and
no message ever costs a lookup of its own. Fallback rows for customers
unreachable on the notification's channel are a second set-based INSERT
of the same shape."""

import logging

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from delivery.models import Channel, Message, MessageStatus, Suppression, SuppressionReason

logger = logging.getLogger("proactive.delivery")

ADDRESS_COLUMN = {Channel.EMAIL: "email", Channel.SMS: "phone"}
OPT_IN_COLUMN = {Channel.EMAIL: "email_opt_in", Channel.SMS: "sms_opt_in"}
SUPPRESSED_INACTIVE = "The customer is inactive."
SUPPRESSED_NO_ADDRESS = {
    Channel.EMAIL: "The customer has no email address.",
    Channel.SMS: "The customer has no phone number.",
}
SUPPRESSED_OPTED_OUT = {
    Channel.EMAIL: "The customer opted out of email.",
    Channel.SMS: "The customer opted out of SMS.",
}
SUPPRESSED_NO_MARKETING = "The customer has not agreed to marketing messages."
SUPPRESSED_LISTED = "The address is on the suppression list: "


def address_normalise(*, channel: str, address: str) -> str:
    """The form addresses are listed and joined in: emails in lower case."""
    address = (address or "").strip()
    return address.lower() if channel == Channel.EMAIL else address


def _recipients_sql(*, channel: str, marketing: bool, customers_sql: str) -> tuple[str, list]:
    """SELECT id, address, reason for the customers of `customers_sql` on
    `channel`; reason '' means reachable."""
    from customers.models import Customer

    qn = connection.ops.quote_name
    address = f"COALESCE(c.{qn(ADDRESS_COLUMN[channel])}, '')"
    opt_in = f"c.{qn(OPT_IN_COLUMN[channel])}"
    sql = f"""
        SELECT c.id AS customer_id, {address} AS address,
            CASE WHEN NOT c.{qn("is_active")} THEN %s
                 WHEN {address} = '' THEN %s
                 WHEN NOT {opt_in} THEN %s
                 WHEN %s AND NOT c.{qn("marketing_opt_in")} THEN %s
                 WHEN s.id IS NOT NULL THEN %s || s.reason || '.'
                 ELSE '' END AS reason
        FROM {qn(Customer._meta.db_table)} c
        LEFT JOIN {qn(Suppression._meta.db_table)} s
            ON s.channel = %s AND s.address = LOWER({address})
        WHERE c.id IN ({customers_sql})
    """  # noqa: S608 - only quoted identifiers are interpolated
    params = [
        SUPPRESSED_INACTIVE,
        SUPPRESSED_NO_ADDRESS[channel],
        SUPPRESSED_OPTED_OUT[channel],
        marketing,
        SUPPRESSED_NO_MARKETING,
        SUPPRESSED_LISTED,
        channel,
    ]
    return sql, params


def messages_insert_sql(
    *,
    notification_id: int,
    channel: str,
    marketing: bool,
    customers_sql: str,
    customers_params: list,
    reachable_only: bool = False,
    on_conflict: str = "ON CONFLICT DO NOTHING",
) -> tuple[str, list]:
    """One INSERT … SELECT writing a Message per customer on `channel`:
    pending when reachable, else suppressed with the reason."""
    qn = connection.ops.quote_name
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    recipients, recipient_params = _recipients_sql(
        channel=channel, marketing=marketing, customers_sql=customers_sql
    )
    # SQLite needs a WHERE before ON CONFLICT in an INSERT … SELECT (or it
    # reads the ON as a join's).
    where = "WHERE r.reason = ''" if reachable_only else "WHERE 1 = 1"
    # In customer order: an incident's notices then line up range for range
    # of message ids, so a supersession reads the newer notice's rows in
    # the order it marks the older one's (9.0 µs a row instead of 10.3–10.6
    # on 1M rows here; the sort cost the write nothing measurable).
    sql = f"""
        INSERT INTO {qn(Message._meta.db_table)}
            (notification_id, customer_id, channel, to_address, subject, body, html,
             status, attempts, last_error, next_attempt_at, sent_at, provider_id,
             segments, created_at, updated_at)
        SELECT %s, r.customer_id, %s, r.address, '', '', '',
            CASE WHEN r.reason = '' THEN %s ELSE %s END,
            0, r.reason,
            CASE WHEN r.reason = '' THEN %s ELSE NULL END,
            NULL, '', NULL, %s, %s
        FROM ({recipients}) r
        {where}
        ORDER BY r.customer_id
        {on_conflict}
    """  # noqa: S608 - only quoted identifiers are interpolated
    params = [
        notification_id,
        channel,
        MessageStatus.PENDING,
        MessageStatus.SUPPRESSED,
        now,
        now,
        now,
        *recipient_params,
        *customers_params,
    ]
    return sql, params


def fallback_channel_of(notification) -> str | None:
    """The channel unreachable customers are moved to, or None. A notification
    that already uses the fallback channel reaches everyone it can on it
    anyway, so there it adds nothing (and never a second message)."""
    fallback = getattr(notification, "fallback_channel", None)
    if not fallback or fallback in (notification.channels or []):
        return None
    return fallback


def fallback_materialise(*, notification, customers_sql: str, customers_params: list) -> int:
    """After the primary rows are written: customers of `customers_sql`
    whose primary message is suppressed get one message on the fallback
    channel, if they are reachable there."""
    fallback = fallback_channel_of(notification)
    if fallback is None:
        return 0
    qn = connection.ops.quote_name
    unreachable = f"""
        SELECT m.customer_id FROM {qn(Message._meta.db_table)} m
        WHERE m.notification_id = %s AND m.status = %s AND m.channel <> %s
            AND m.customer_id IN ({customers_sql})
    """  # noqa: S608 - only quoted identifiers are interpolated
    sql, params = messages_insert_sql(
        notification_id=notification.pk,
        channel=fallback,
        marketing=notification.category == "marketing",
        customers_sql=unreachable,
        customers_params=[notification.pk, MessageStatus.SUPPRESSED, fallback, *customers_params],
        reachable_only=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def fallback_after_failure(*, message: Message) -> bool:
    """A message that failed for good: its customer gets one message on the
    notification's fallback channel instead, in the same run."""
    notification = message.notification
    if notification is None or message.customer_id is None:
        return False
    fallback = fallback_channel_of(notification)
    if fallback is None or fallback == message.channel:
        return False
    sql, params = messages_insert_sql(
        notification_id=notification.pk,
        channel=fallback,
        marketing=notification.category == "marketing",
        customers_sql="%s",
        customers_params=[message.customer_id],
        reachable_only=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = max(cursor.rowcount, 0)
    if written:
        logger.info(
            "fallback message queued after a permanent failure",
            extra={"message_id": message.pk, "channel": fallback},
        )
    return bool(written)


def message_failed_for_good(*, message: Message, error) -> None:
    """After a permanent failure: a mailbox the server does not know goes on
    the list, and the customer gets the fallback channel instead."""
    if getattr(error, "recipient_unknown", False) and message.to_address:
        suppression_add(
            channel=message.channel,
            address=message.to_address,
            reason=SuppressionReason.HARD_BOUNCE,
            detail=error.message,
        )
    if fallback_after_failure(message=message):
        from delivery.dispatch import message_nudge_on_commit

        message_nudge_on_commit()


# --- the list itself --------------------------------------------------------


def suppression_add(
    *, channel: str, address: str, reason: str, detail: str = ""
) -> tuple[Suppression, bool]:
    """Put an address on the list (kept as it is when already there).
    Returns (the entry, whether it was new)."""
    address = address_normalise(channel=channel, address=address)
    existing = Suppression.objects.filter(channel=channel, address=address).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            entry = Suppression.objects.create(
                channel=channel, address=address, reason=reason, detail=detail[:2000]
            )
    except IntegrityError:  # listed meanwhile by another request
        return Suppression.objects.get(channel=channel, address=address), False
    logger.info(
        "address suppressed", extra={"channel": channel, "reason": reason, "suppression": entry.pk}
    )
    return entry, True


def suppression_remove(*, channel: str, address: str, reasons: tuple[str, ...] = ()) -> int:
    """Take an address off the list (only entries of `reasons`, if given)."""
    entries = Suppression.objects.filter(
        channel=channel, address=address_normalise(channel=channel, address=address)
    )
    if reasons:
        entries = entries.filter(reason__in=reasons)
    removed, _ = entries.delete()
    return removed


def suppression_delete(*, suppression: Suppression) -> None:
    logger.info("suppression removed", extra={"suppression": suppression.pk})
    suppression.delete()


REASONS = SuppressionReason
