"""Delivery reads."""

import datetime

from django.db.models import QuerySet

from delivery.models import OPEN_STATUSES, Message, OutboxMessage


def outbox_list() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.order_by("-created_at", "-id")


def message_due_count(*, now: datetime.datetime) -> int:
    return Message.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now).count()
