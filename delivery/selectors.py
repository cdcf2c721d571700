"""Delivery reads."""

from django.db.models import QuerySet

from delivery.models import OutboxMessage, Suppression


def outbox_list() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.order_by("-created_at", "-id")


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
