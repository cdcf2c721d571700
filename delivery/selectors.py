"""Delivery reads."""

from django.db.models import QuerySet

from delivery.models import OutboxMessage


def outbox_list() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.order_by("-created_at", "-id")
