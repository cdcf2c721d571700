"""Changes to many of a notification's messages at once, each one UPDATE:
what notifications and incidents ask for when a notice is superseded, a
notification is cancelled, its failed messages are retried or its end has
passed. The notification's own status is theirs to change."""

import datetime
import logging

from django.db.models import Exists, OuterRef, Q
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


def messages_cancel(*, notification_id: int, now: datetime.datetime) -> int:
    """Every undelivered message of the notification becomes `cancelled`.
    Call it inside the cancelling transaction, after
    `delivery.fence.cancel_fence_close`, so no worker hands over another one.
    Returns the rows changed."""
    return Message.objects.filter(notification_id=notification_id, status__in=OPEN_STATUSES).update(
        status=MessageStatus.CANCELLED,
        next_attempt_at=None,
        last_error=CANCELLED_REASON,
        updated_at=now,
    )


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
