"""Retention: message rows, outbox copies and transactional messages older
than MESSAGE_RETENTION_DAYS are deleted every night, in short batches.

Only what is over is purged: the messages of a notification that finished
(completed, expired or cancelled) before the cutoff, transactional messages
(no notification) created before it and no longer waiting to be sent, and
outbox copies captured before it unless their message belongs to a
notification still going on. Nothing of a draft, scheduled, awaiting or
sending notification is ever deleted, whatever its age.

The statistics keep working for a purged notification: they read the
message tally (delivery.MessageTally), which has no trigger on DELETE.

Each batch is one DELETE of at most RETENTION_BATCH ids chosen through an
index, in a transaction of its own: row locks are held for a few
milliseconds and workers sending at the same time are never kept waiting
for long. Ticket attachments belong to their tickets and are not touched."""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from delivery.models import OPEN_STATUSES, Message, OutboxMessage

logger = logging.getLogger("proactive.delivery")

RETENTION_BATCH = 5_000
# The notification statuses nothing more will happen in (see
# notifications.models.Notification.Status).
FINISHED_NOTIFICATION_STATUSES = ("completed", "expired", "cancelled")


@dataclass
class PurgeResult:
    messages: int = 0
    transactional: int = 0
    outbox: int = 0
    notifications: int = 0


def retention_cutoff(*, now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(days=settings.MESSAGE_RETENTION_DAYS)


def _delete_messages(ids: list[int]) -> int:
    """Delete these message rows in one statement; outbox copies captured
    after the cutoff lose their link to the message and stay."""
    OutboxMessage.objects.filter(message_id__in=ids).update(message=None)
    table = connection.ops.quote_name(Message._meta.db_table)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        # Only the quoted table name is interpolated; the ids are parameters.
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", ids)  # noqa: S608
        return cursor.rowcount


def _purge_notification(notification_id: int, cutoff: datetime.datetime, batch: int) -> int:
    """Every message of one finished notification, a batch at a time. Each
    batch re-reads the notification under its row lock, so a retry of its
    failed messages (which takes the same lock) never races a purge."""
    from notifications.models import Notification

    deleted = 0
    while True:
        with transaction.atomic():
            still_finished = list(
                Notification.objects.select_for_update()
                .filter(
                    pk=notification_id,
                    status__in=FINISHED_NOTIFICATION_STATUSES,
                    finished_at__lt=cutoff,
                )
                .values_list("pk", flat=True)
            )
            if not still_finished:
                return deleted
            ids = list(
                Message.objects.filter(notification_id=notification_id)
                .order_by()
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return deleted
            deleted += _delete_messages(ids)


def _purge_in_batches(queryset, batch: int, delete) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
            if not ids:
                return deleted
            deleted += delete(ids)


def messages_purge(
    *, now: datetime.datetime | None = None, batch: int = RETENTION_BATCH
) -> PurgeResult:
    """Beat, nightly: delete what is older than the retention (see the module)."""
    from notifications.models import Notification

    cutoff = retention_cutoff(now=now)
    result = PurgeResult()
    finished = Notification.objects.filter(
        status__in=FINISHED_NOTIFICATION_STATUSES, finished_at__lt=cutoff
    ).order_by("pk")
    for notification_id in finished.values_list("pk", flat=True):
        deleted = _purge_notification(notification_id, cutoff, batch)
        result.messages += deleted
        result.notifications += bool(deleted)
    transactional = Message.objects.filter(
        notification__isnull=True, created_at__lt=cutoff
    ).exclude(status__in=OPEN_STATUSES)
    result.transactional = _purge_in_batches(transactional, batch, _delete_messages)
    unfinished = Notification.objects.exclude(status__in=FINISHED_NOTIFICATION_STATUSES).values(
        "pk"
    )
    outbox = OutboxMessage.objects.filter(created_at__lt=cutoff).exclude(
        Q(message__notification_id__in=unfinished)
        | Q(message__notification__isnull=True, message__status__in=OPEN_STATUSES)
    )
    result.outbox = _purge_in_batches(
        outbox, batch, lambda ids: OutboxMessage.objects.filter(pk__in=ids).delete()[0]
    )
    logger.info(
        "old messages purged",
        extra={
            "cutoff": cutoff.isoformat(),
            "messages": result.messages,
            "notifications": result.notifications,
            "transactional": result.transactional,
            "outbox": result.outbox,
        },
    )
    return result
