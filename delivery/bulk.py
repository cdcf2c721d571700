"""Changes to many of a notification's messages at once: what notifications
and incidents ask for when a notice is superseded, a notification is
cancelled, its failed messages are retried or its end has passed. The
notification's own status is theirs to change.

A cancel marks the rows in ranges of message ids, one UPDATE per range,
each committed on its own: no transaction holds a million row locks, and
the cancelling request can return after its first range while a task marks
the rest (the cancel fence and the notification's status already keep
every one of them from being sent)."""

import contextlib
import datetime
import logging
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from delivery.checks import ENDED
from delivery.dispatch import message_nudge_on_commit
from delivery.models import OPEN_STATUSES, Message, MessageStatus

logger = logging.getLogger("proactive.delivery")

SUPERSEDED_REASON = "A newer notice of the same incident was queued; only the latest is sent."
CANCELLED_REASON = "The notification was cancelled."


def messages_supersede(*, newer_notification_id: int, older_notification_ids: list[int]) -> int:
    """No stale notices: every undelivered message of the older notices to a
    customer and channel the newer notice has a message for becomes
    `superseded`, in one UPDATE. A row being sent right now (its lease still
    running) is left to its worker; one whose lease ran out (the worker
    died) is superseded like a waiting one. Returns the rows changed."""
    now = timezone.now()
    newer = Message.objects.filter(
        notification_id=newer_notification_id,
        customer_id=OuterRef("customer_id"),
        channel=OuterRef("channel"),
    ).exclude(status__in=(MessageStatus.SUPPRESSED, MessageStatus.CANCELLED))
    undelivered = Q(status__in=(MessageStatus.PENDING, MessageStatus.DEFERRED)) | Q(
        status=MessageStatus.SENDING, next_attempt_at__lt=now
    )
    superseded = (
        Message.objects.filter(notification_id__in=older_notification_ids)
        .filter(undelivered)
        .filter(Exists(newer))
        .update(
            status=MessageStatus.SUPERSEDED,
            next_attempt_at=None,
            last_error=SUPERSEDED_REASON,
            updated_at=now,
        )
    )
    logger.info(
        "messages superseded",
        extra={"notification_id": newer_notification_id, "superseded": superseded},
    )
    return superseded


# Message ids per range when a cancel marks a notification's rows: one
# UPDATE of up to this many rows, about a third of a second on PostgreSQL.
RANGE_IDS = 50_000
# Advisory lock namespace: one marker of a notification's rows at a time.
CANCEL_MARK_NAMESPACE = 0x5053


def _id_ranges(rows: QuerySet) -> list[tuple[int, int]]:
    """The rows' span of ids, cut into RANGE_IDS-wide ranges, lowest first."""
    span = rows.aggregate(low=Min("pk"), high=Max("pk"))
    if span["low"] is None:
        return []
    low, high = span["low"], span["high"]
    return [(start, min(start + RANGE_IDS - 1, high)) for start in range(low, high + 1, RANGE_IDS)]


@contextlib.contextmanager
def _sole_marker(notification_id: int) -> Iterator[bool]:
    """True when no other session is marking this notification's rows
    (PostgreSQL; SQLite has a single writer). A session that dies lets go."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield True
        return
    key = [CANCEL_MARK_NAMESPACE, notification_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def messages_cancel(
    *, notification_id: int, now: datetime.datetime, ranges: int | None = None
) -> tuple[int, bool]:
    """The notification's undelivered messages become `cancelled`, range by
    range from the lowest id, each range in its own transaction (or in the
    caller's). `ranges` caps how many ranges this call marks (None: all).
    The cancelling transaction marks the first after
    `delivery.fence.cancel_fence_close`, so no worker hands over another of
    its messages; the rest can wait (see messages_cancel_rest). Returns (rows
    changed, True when it went over every range)."""
    open_rows = Message.objects.filter(notification_id=notification_id, status__in=OPEN_STATUSES)
    spans = _id_ranges(open_rows)
    changed = 0
    for low, high in spans[:ranges]:
        with transaction.atomic():
            changed += open_rows.filter(pk__range=(low, high)).update(
                status=MessageStatus.CANCELLED,
                next_attempt_at=None,
                last_error=CANCELLED_REASON,
                updated_at=now,
            )
    return changed, ranges is None or len(spans) <= ranges


def messages_cancel_rest(*, notification_id: int) -> int | None:
    """After a cancel committed: mark the rows its request left, outside any
    transaction. None when another session is marking them right now."""
    with _sole_marker(notification_id) as sole:
        if not sole:
            return None
        changed, _ = messages_cancel(notification_id=notification_id, now=timezone.now())
    logger.info(
        "cancelled messages marked", extra={"notification_id": notification_id, "messages": changed}
    )
    return changed


def messages_retry_failed(*, notification_id: int, now: datetime.datetime) -> int:
    """Every failed message of the notification gets a fresh set of
    attempts, due now; the dispatcher is nudged when the caller commits.
    Returns the rows changed."""
    retried = Message.objects.filter(
        notification_id=notification_id, status=MessageStatus.FAILED
    ).update(status=MessageStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
    if retried:
        message_nudge_on_commit()
    return retried


def messages_expire_ended(*, now: datetime.datetime) -> int:
    """Undelivered messages of sending notifications whose end has passed
    become `expired` in one statement (rows being sent right now are left to
    their worker, which checks the end itself)."""
    from notifications.models import Notification

    expired = Message.objects.filter(
        notification__status=Notification.Status.SENDING,
        notification__end_at__lte=now,
        status__in=(MessageStatus.PENDING, MessageStatus.DEFERRED),
    ).update(
        status=MessageStatus.EXPIRED,
        next_attempt_at=None,
        last_error=ENDED,
        updated_at=now,
    )
    if expired:
        logger.info("messages expired at the notification's end", extra={"messages": expired})
    return expired
