"""Changes to many of a notification's messages at once: what notifications
and incidents ask for when a notice is superseded, a notification is
cancelled, its failed messages are retried or its end has passed. The
notification's own status is theirs to change.

A cancel or a supersession marks the rows in ranges of message ids, one
UPDATE per range, each committed on its own: no transaction holds a million
row locks, and the request can return after its first range while a task
marks the rest. Nothing unmarked is sent meanwhile: a cancel's fence and
the notification's status stop a worker, and a worker that claims a
superseded notice's row supersedes it itself (delivery.notice_order)."""

import contextlib
import datetime
import logging
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from delivery.checks import ENDED
from delivery.dispatch import message_nudge_on_commit
from delivery.models import OPEN_STATUSES, Message, MessageStatus

logger = logging.getLogger("proactive.delivery")

SUPERSEDED_REASON = "A newer notice of the same incident was queued; only the latest is sent."
CANCELLED_REASON = "The notification was cancelled."


# Message ids per range when a cancel or a supersession marks rows: one
# UPDATE of up to this many rows, about a second on PostgreSQL here.
RANGE_IDS = 50_000
# Advisory lock namespaces: one session at a time marks a cancelled
# notification's rows, or supersedes what a newer notice replaces.
CANCEL_MARK_NAMESPACE = 0x5053
SUPERSEDE_MARK_NAMESPACE = 0x5054


def _id_ranges(rows: QuerySet) -> list[tuple[int, int]]:
    """The rows' span of ids, cut into RANGE_IDS-wide ranges, lowest first.
    `pk + 0` keeps PostgreSQL from finding the ends by walking the primary
    key from either end, which passes every other notification's rows first
    (a year of them, on a busy table); this reads the notification's own."""
    span = rows.aggregate(low=Min(F("pk") + 0), high=Max(F("pk") + 0))
    if span["low"] is None:
        return []
    low, high = span["low"], span["high"]
    return [(start, min(start + RANGE_IDS - 1, high)) for start in range(low, high + 1, RANGE_IDS)]


@contextlib.contextmanager
def _sole_marker(namespace: int, notification_id: int) -> Iterator[bool]:
    """True when no other session holds this namespace's lock on the
    notification (PostgreSQL; SQLite has a single writer). A session that
    dies lets go."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield True
        return
    key = [namespace, notification_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _mark_in_ranges(
    rows: QuerySet, *, ranges: int | None, narrow: Q | None = None, **values
) -> tuple[int, bool]:
    """Set `values` on `rows`, range by range of ids from the lowest, each
    range in its own transaction (or in the caller's); `narrow` is a
    condition only the UPDATE tests (the ranges come from `rows` alone).
    `ranges` caps how many ranges this call marks (None: all). Returns (rows
    changed, True when it went over every range)."""
    spans = _id_ranges(rows)
    changed = 0
    for low, high in spans[:ranges]:
        in_range = rows.filter(pk__range=(low, high))
        if narrow is not None:
            in_range = in_range.filter(narrow)
        with transaction.atomic():
            changed += in_range.update(**values)
    return changed, ranges is None or len(spans) <= ranges


def messages_supersede(
    *, newer_notification_id: int, older_notification_ids: list[int], ranges: int | None = None
) -> tuple[int, bool]:
    """No stale notices: every undelivered message of the older notices to a
    customer and channel the newer notice has a message for becomes
    `superseded`, range by range (see _mark_in_ranges; `ranges` caps how
    many). A row being sent right now (its lease still running) is left to
    its worker; one whose lease ran out (the worker died) is superseded like
    a waiting one. Rows not marked yet are never sent either: a worker that
    claims one supersedes it (delivery.notice_order). Returns (rows changed,
    True when it went over every range)."""
    now = timezone.now()
    newer = Message.objects.filter(
        notification_id=newer_notification_id,
        customer_id=OuterRef("customer_id"),
        channel=OuterRef("channel"),
    ).exclude(status__in=(MessageStatus.SUPPRESSED, MessageStatus.CANCELLED))
    undelivered = Q(status__in=(MessageStatus.PENDING, MessageStatus.DEFERRED)) | Q(
        status=MessageStatus.SENDING, next_attempt_at__lt=now
    )
    superseded, every_range = _mark_in_ranges(
        Message.objects.filter(
            notification_id__in=older_notification_ids, status__in=OPEN_STATUSES
        ),
        ranges=ranges,
        narrow=undelivered & Q(Exists(newer)),
        status=MessageStatus.SUPERSEDED,
        next_attempt_at=None,
        last_error=SUPERSEDED_REASON,
        updated_at=now,
    )
    logger.info(
        "messages superseded",
        extra={"notification_id": newer_notification_id, "superseded": superseded},
    )
    return superseded, every_range


def messages_supersede_rest(
    *, newer_notification_id: int, older_notification_ids: list[int]
) -> int | None:
    """After a newer notice's materialisation committed: supersede what its
    transaction left, outside any transaction. None when another session is
    doing it right now."""
    with _sole_marker(SUPERSEDE_MARK_NAMESPACE, newer_notification_id) as sole:
        if not sole:
            return None
        changed, _ = messages_supersede(
            newer_notification_id=newer_notification_id,
            older_notification_ids=older_notification_ids,
        )
    return changed


def messages_cancel(
    *, notification_id: int, now: datetime.datetime, ranges: int | None = None
) -> tuple[int, bool]:
    """The notification's undelivered messages become `cancelled`, range by
    range (see _mark_in_ranges; `ranges` caps how many). The cancelling
    transaction marks the first after `delivery.fence.cancel_fence_close`,
    so no worker hands over another of its messages; the rest can wait (see
    messages_cancel_rest). Returns (rows changed, True when it went over
    every range)."""
    return _mark_in_ranges(
        Message.objects.filter(notification_id=notification_id, status__in=OPEN_STATUSES),
        ranges=ranges,
        status=MessageStatus.CANCELLED,
        next_attempt_at=None,
        last_error=CANCELLED_REASON,
        updated_at=now,
    )


def messages_cancel_rest(*, notification_id: int) -> int | None:
    """After a cancel committed: mark the rows its request left, outside any
    transaction. None when another session is marking them right now."""
    with _sole_marker(CANCEL_MARK_NAMESPACE, notification_id) as sole:
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
