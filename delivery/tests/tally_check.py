"""The message tally against a full count of the messages, for the tests."""

from collections import Counter

from django.db.models import Count, Sum

from delivery.models import Message, MessageTally


def counted() -> Counter:
    """(notification, channel, status) → messages, counted row by row."""
    rows = (
        Message.objects.filter(notification__isnull=False)
        .values_list("notification_id", "channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return Counter({key[:3]: key[3] for key in rows})


def tallied() -> Counter:
    """The same from the tally, summed over shards; zero entries left out."""
    rows = (
        MessageTally.objects.values_list("notification_id", "channel", "status")
        .annotate(n=Sum("n"))
        .order_by()
    )
    return Counter({row[:3]: row[3] for row in rows if row[3]})
