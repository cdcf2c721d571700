"""Delivery reads."""

from django.db.models import Case, F, Max, Min, QuerySet, Sum, Value, When

from delivery.models import (
    OPEN_STATUSES,
    Message,
    MessageStatus,
    MessageTally,
    OutboxMessage,
    Suppression,
)


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


# A cancelled notification's status, as the notifications app spells it.
NOTIFICATION_CANCELLED = "cancelled"


def message_tally(*, notifications, by: tuple[str, ...]) -> list[dict]:
    """Message counts of the given notifications (a list of ids or a query
    of notifications) from the tally the database keeps, summed over its
    shards and grouped by `by` (of "notification_id", "channel", "status"):
    dicts with those keys and `n`, `first_sent_at`, `last_sent_at`. Reads a
    few rows per notification, however many messages there are, and keeps
    the counts of messages retention has deleted.

    A cancelled notification's rows still open count as `cancelled`: that
    is what they are, the cancel's task marks a large notification's rows
    after the request (delivery.bulk.messages_cancel)."""
    shown = Case(
        When(
            status__in=OPEN_STATUSES,
            notification__status=NOTIFICATION_CANCELLED,
            then=Value(MessageStatus.CANCELLED.value),
        ),
        default=F("status"),
    )
    fields = [("shown_status" if field == "status" else field) for field in by]
    rows = (
        MessageTally.objects.filter(notification_id__in=notifications)
        .annotate(shown_status=shown)
        .values(*fields)
        .annotate(n=Sum("n"), first_sent_at=Min("first_sent_at"), last_sent_at=Max("last_sent_at"))
        .order_by()
    )
    return [
        {("status" if key == "shown_status" else key): value for key, value in row.items()}
        for row in rows
    ]
