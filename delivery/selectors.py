"""Delivery reads."""

from django.db.models import QuerySet

from delivery.models import Message, MessageStatus, OutboxMessage, Suppression


def outbox_list(*, to: str = "", channel: str = "") -> QuerySet[OutboxMessage]:
    """Newest first; `to` narrows to addresses containing it, `channel` to one channel."""
    rows = OutboxMessage.objects.order_by("-created_at", "-id")
    if to:
        rows = rows.filter(to__icontains=to)
    if channel:
        rows = rows.filter(channel=channel)
    return rows


def message_list_for_customer(*, customer) -> QuerySet[Message]:
    """Every message to a customer, newest first, with its notification."""
    return (
        Message.objects.filter(customer=customer)
        .select_related("notification", "notification__incident")
        .order_by("-created_at", "-id")
    )


def message_sent_list_for_customer(*, customer) -> QuerySet[Message]:
    """The notifications' messages that reached a customer, the latest sent first."""
    return (
        Message.objects.filter(
            customer=customer, notification__isnull=False, status=MessageStatus.SENT
        )
        .select_related("notification", "notification__incident")
        .order_by("-sent_at", "-id")
    )


def suppression_list() -> QuerySet[Suppression]:
    return Suppression.objects.order_by("-created_at", "-id")


def suppression_for_customer(*, email: str, phone: str) -> list[Suppression]:
    """The entries that stop messages to a customer's current addresses."""
    from django.db.models import Q

    from delivery.suppression import address_normalise

    wanted = Q(pk__in=[])
    if email:
        wanted |= Q(channel="email", address=address_normalise(channel="email", address=email))
    if phone:
        wanted |= Q(channel="sms", address=phone)
    return list(Suppression.objects.filter(wanted))
