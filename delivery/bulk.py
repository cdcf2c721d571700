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

import datetime
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.db import connection, connections, transaction
from django.db.models import F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
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
# Advisory lock namespaces (PostgreSQL): a range of a cancelled
# notification's rows, or of the rows a newer notice supersedes, is marked
# by one session at a time; the others pass it by.
CANCEL_MARK_NAMESPACE = 0x5053
SUPERSEDE_MARK_NAMESPACE = 0x5054
# How often, and how long apart, a task marking the rest goes back over
# ranges another session held when it passed them.
MARK_ROUNDS = 600
MARK_ROUND_PAUSE_SECONDS = 0.1
# Sessions marking the rest side by side (PostgreSQL), each taking the
# next range the others do not hold. On 2 CPUs, 400,000 rows took
# 3.8–4.2 s in one session, 2.9 s in two and 3.3 s in three.
MARK_SESSIONS = 2


def _id_ranges(rows: QuerySet) -> list[tuple[int, int]]:
    """The RANGE_IDS-aligned ranges of ids the rows span, lowest first
    (aligned, so every session cuts the same ranges and locks the same).
    `pk + 0` keeps PostgreSQL from finding the ends by walking the primary
    key from either end, which passes every other notification's rows first
    (a year of them, on a busy table); this reads the notification's own."""
    span = rows.aggregate(low=Min(F("pk") + 0), high=Max(F("pk") + 0))
    if span["low"] is None:
        return []
    first, last = span["low"] // RANGE_IDS, span["high"] // RANGE_IDS
    return [(n * RANGE_IDS, (n + 1) * RANGE_IDS - 1) for n in range(first, last + 1)]


def _range_taken(lock: tuple[int, int] | None, low: int) -> bool:
    """In the range's transaction: True when this session may mark the range
    (no other session holds it; the lock goes with the transaction)."""
    if lock is None or connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [range_lock_key(lock, low)])
        return cursor.fetchone()[0]


def range_lock_key(lock: tuple[int, int], low: int) -> int:
    """The advisory lock of the range starting at id `low`: its namespace,
    whose rows (a notification id) and which range, in one bigint."""
    namespace, owner = lock
    return (namespace << 48) | ((owner % 2**24) << 24) | ((low // RANGE_IDS) % 2**24)


def _mark_in_ranges(
    rows: QuerySet,
    *,
    ranges: int | None,
    narrow: Q | None = None,
    lock: tuple[int, int] | None = None,
    **values,
) -> tuple[int, bool]:
    """Set `values` on `rows`, range by range of ids from the lowest, each
    range in its own transaction (or in the caller's); `narrow` is a
    condition only the UPDATE tests (the ranges come from `rows` alone).
    `ranges` caps how many ranges with rows to change this call marks (None:
    all). With `lock` (namespace, notification id) a range another session
    is marking is passed by. Returns (rows changed, True when it went over
    every range and passed none by)."""
    changed, marked, passed = 0, 0, False
    for low, high in _id_ranges(rows):
        if ranges is not None and marked >= ranges:
            return changed, False
        in_range = rows.filter(pk__range=(low, high))
        if narrow is not None:
            in_range = in_range.filter(narrow)
        with transaction.atomic():
            if not _range_taken(lock, low):
                passed = True
                continue
            count = in_range.update(**values)
        changed += count
        marked += count > 0
    return changed, not passed


def _mark_until_done(mark) -> int:
    """Outside any transaction: mark every range in MARK_SESSIONS sessions
    side by side (the range locks keep them off each other's ranges). One
    session on SQLite, which has no such locks and one writer at a time, and
    inside a transaction, whose rows a helper's own session would not see.
    Returns the rows this call changed."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or MARK_SESSIONS < 2:
        return _mark_rounds(mark)
    helpers = MARK_SESSIONS - 1
    with ThreadPoolExecutor(max_workers=helpers) as pool:
        marking = [pool.submit(_in_own_session, mark) for _ in range(helpers)]
        return _mark_rounds(mark) + sum(helper.result() for helper in marking)


def _in_own_session(mark) -> int:
    """In a helper thread: its own database session, closed at the end (as
    a drain lane's, delivery.lanes)."""
    try:
        return _mark_rounds(mark)
    finally:
        connections.close_all()


def _mark_rounds(mark) -> int:
    """Mark every range, going back over the ones other sessions held (each
    of them marks its range within a second or two; one that dies lets go
    of it). Returns the rows this session changed."""
    changed = 0
    for _ in range(MARK_ROUNDS):
        count, done = mark()
        changed += count
        if done:
            break
        time.sleep(MARK_ROUND_PAUSE_SECONDS)
    return changed


def messages_supersede(
    *,
    newer_notification_id: int,
    older_notification_ids: list[int],
    ranges: int | None = None,
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
    # The newer notice's message to the same customer and channel, looked up
    # row by row through its unique index. A scalar subquery, not EXISTS:
    # PostgreSQL may plan an EXISTS as a join that hashes every row of the
    # newer notice again for each range. It did on a copy of a million-
    # customer database: a million-row supersession took 19–21 s with it,
    # 13.6–15.3 s with this (README, "Scaling").
    newer = (
        Message.objects.filter(
            notification_id=newer_notification_id,
            customer_id=OuterRef("customer_id"),
            channel=OuterRef("channel"),
        )
        .exclude(status__in=(MessageStatus.SUPPRESSED, MessageStatus.CANCELLED))
        .order_by()
        .values("pk")[:1]
    )
    undelivered = Q(status__in=(MessageStatus.PENDING, MessageStatus.DEFERRED)) | Q(
        status=MessageStatus.SENDING, next_attempt_at__lt=now
    )
    superseded, every_range = _mark_in_ranges(
        Message.objects.filter(
            notification_id__in=older_notification_ids, status__in=OPEN_STATUSES
        ),
        ranges=ranges,
        narrow=undelivered & Q(IsNull(Subquery(newer), False)),
        lock=(SUPERSEDE_MARK_NAMESPACE, newer_notification_id),
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
) -> int:
    """After a newer notice's materialisation committed: supersede what its
    transaction left, outside any transaction. Returns the rows changed."""
    return _mark_until_done(
        partial(
            messages_supersede,
            newer_notification_id=newer_notification_id,
            older_notification_ids=older_notification_ids,
        )
    )


def messages_cancel(
    *, notification_id: int, now: datetime.datetime, ranges: int | None = None
) -> tuple[int, bool]:
    """The notification's undelivered messages become `cancelled`, range by
    range (see _mark_in_ranges; `ranges` caps how many). The cancelling
    transaction marks the first after `delivery.fence.cancel_fence_close`,
    so no worker hands over another of its messages; a task marks the rest
    (messages_cancel_rest), and a worker that claims rows not marked yet
    marks a range too (message_batch_deliver). Returns (rows changed, True
    when it went over every range)."""
    return _mark_in_ranges(
        Message.objects.filter(notification_id=notification_id, status__in=OPEN_STATUSES),
        ranges=ranges,
        lock=(CANCEL_MARK_NAMESPACE, notification_id),
        status=MessageStatus.CANCELLED,
        next_attempt_at=None,
        last_error=CANCELLED_REASON,
        updated_at=now,
    )


def messages_cancel_rest(*, notification_id: int) -> int:
    """After a cancel committed: mark the rows its request left, outside any
    transaction. Returns the rows this call changed."""
    changed = _mark_until_done(
        lambda: messages_cancel(notification_id=notification_id, now=timezone.now())
    )
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
