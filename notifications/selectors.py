"""Notification reads: lists and statistics, each computed with grouped
queries (never a Python loop over messages)."""

from django.db.models import Count, Max, Min, QuerySet

from customers.models import Customer
from customers.selectors import customer_audience
from delivery.models import Channel, Message, MessageStatus
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
    rows = (
        Message.objects.filter(notification_id__in=notification_ids)
        .values_list("notification_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for notification_id, status, n in rows:
        entry = totals[notification_id]
        entry["by_status"][status] = n
        entry["total"] += n
    return totals


def notification_stats(*, notification: Notification) -> dict:
    """The detailed statistics of one notification."""
    messages = Message.objects.filter(notification=notification)
    by_status = _empty_by_status()
    by_channel = {channel: _empty_by_status() for channel in notification.channels or CHANNELS}
    total = 0
    rows = messages.values_list("channel", "status").annotate(n=Count("pk")).order_by()
    for channel, status, n in rows:
        by_status[status] += n
        by_channel.setdefault(channel, _empty_by_status())[status] = n
        total += n
    times = messages.filter(status=MessageStatus.SENT).aggregate(
        first=Min("sent_at"), last=Max("sent_at")
    )
    return {
        "id": notification.pk,
        "total": total,
        "by_status": by_status,
        "by_channel": by_channel,
        "first_sent_at": times["first"],
        "last_sent_at": times["last"],
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
        .select_related("created_by")
        .order_by("created_at", "id")
    )
