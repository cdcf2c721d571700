"""Reads that only the website's dashboard needs (grouped queries, no loops over rows)."""

import datetime

from django.db.models import Count, Q
from django.utils import timezone

from delivery.models import OPEN_STATUSES, MessageStatus
from delivery.selectors import message_tally
from notifications.models import Notification
from tickets.models import ACTIVE_STATUSES, Ticket


def delivery_last_day(*, now: datetime.datetime | None = None) -> dict:
    """Messages of the notifications started in the last 24 hours, by status and
    by channel, from the message tally: a few rows per notification, so it
    stays quick however many messages the table holds."""
    since = (now or timezone.now()) - datetime.timedelta(hours=24)
    recent = Notification.objects.filter(started_at__gte=since).values("pk")
    by_status = dict.fromkeys(MessageStatus.values, 0)
    by_channel: dict[str, int] = {}
    for row in message_tally(notifications=recent, by=("channel", "status")):
        by_status[row["status"]] += row["n"]
        by_channel[row["channel"]] = by_channel.get(row["channel"], 0) + row["n"]
    return {"total": sum(by_status.values()), "by_status": by_status, "by_channel": by_channel}


def ticket_figures(*, user, now: datetime.datetime | None = None) -> dict:
    now = now or timezone.now()
    active = Q(status__in=ACTIVE_STATUSES)
    return Ticket.objects.aggregate(
        open=Count("pk", filter=active),
        overdue=Count("pk", filter=active & Q(due_at__lt=now)),
        unassigned=Count("pk", filter=active & Q(assignee__isnull=True)),
        mine=Count("pk", filter=active & Q(assignee=user)),
    )


def notification_progress(totals: dict, notification: Notification) -> dict:
    """How far delivery has got: settled messages out of all, as a percentage."""
    total = totals["total"]
    waiting = sum(totals["by_status"].get(s, 0) for s in OPEN_STATUSES)
    done = total - waiting
    percent = round(100 * done / total) if total else 0
    if notification.status == Notification.Status.COMPLETED:
        percent = 100
    return {"total": total, "done": done, "waiting": waiting, "percent": percent}
