"""Notification reads: lists and statistics. The statistics read the
message tally (delivery.MessageTally, kept by the database as messages are
written), never a count over the Message table: a few rows per notification
and channel, however many messages it has and while they are being sent."""

from django.db.models import QuerySet

from customers.models import Customer
from customers.selectors import customer_audience
from delivery.models import Channel, Message, MessageStatus
from delivery.selectors import message_tally
from notifications import hooks
from notifications.models import Notification

STATUSES = [choice.value for choice in MessageStatus]
CHANNELS = [choice.value for choice in Channel]


def notification_list() -> QuerySet[Notification]:
    return Notification.objects.select_related("created_by", "incident").order_by(
        "-created_at", "-id"
    )


def _empty_by_status() -> dict[str, int]:
    return dict.fromkeys(STATUSES, 0)


def notification_totals(*, notification_ids: list[int]) -> dict[int, dict]:
    """{notification id: {"total": n, "by_status": {status: n}}} in one query."""
    totals = {pk: {"total": 0, "by_status": _empty_by_status()} for pk in notification_ids}
    for row in message_tally(notifications=notification_ids, by=("notification_id", "status")):
        entry = totals[row["notification_id"]]
        entry["by_status"][row["status"]] += row["n"]
        entry["total"] += row["n"]
    return totals


def notification_stats(*, notification: Notification) -> dict:
    """The detailed statistics of one notification. The send times span
    every message ever counted as sent (one later bounced still counts)."""
    by_status = _empty_by_status()
    by_channel = {channel: _empty_by_status() for channel in notification.channels or CHANNELS}
    total = 0
    first = last = None
    for row in message_tally(notifications=[notification.pk], by=("channel", "status")):
        status, n = row["status"], row["n"]
        by_status[status] += n
        by_channel.setdefault(row["channel"], _empty_by_status())[status] = n
        total += n
        if status == MessageStatus.SENT and n:
            first = min(filter(None, (first, row["first_sent_at"])), default=None)
            last = max(filter(None, (last, row["last_sent_at"])), default=None)
    return {
        "id": notification.pk,
        "total": total,
        "by_status": by_status,
        "by_channel": by_channel,
        "first_sent_at": first,
        "last_sent_at": last,
    }


def notification_messages(*, notification: Notification) -> QuerySet[Message]:
    return Message.objects.filter(notification=notification).order_by("pk")


def notification_audience(
    *, notification: Notification, materialising: bool = False
) -> QuerySet[Customer]:
    """Who the notification is for. An incident's notice goes to (part of)
    the incident's frozen audience, which the incidents app resolves through
    the hook it registers (`materialising`: the rows are about to be
    written, so the audience must be frozen by now); any other notification
    to its audience filters."""
    if notification.incident_id is not None and hooks.incident_audience:
        return hooks.incident_audience.ask(notification=notification, materialising=materialising)
    return customer_audience(audience=notification.audience)


def notification_awaiting_approval_list() -> QuerySet[Notification]:
    """Sends waiting for a second staff member's approval, the oldest first."""
    return (
        Notification.objects.filter(status=Notification.Status.AWAITING_APPROVAL)
        .select_related("created_by", "incident")
        .order_by("created_at", "id")
    )
