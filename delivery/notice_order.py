"""Notices of one incident reach each customer in the order they were
started, and never an older one after a newer one.

Superseding at materialisation (`messages_supersede`) leaves alone a row a
worker holds under a running lease: that worker may be about to send it, or
it may have died holding it, and its lease will run out after the newer
notice went. So every claimed batch of incident notices is checked, right
after the claim, with two reads per notification in the batch:

- stale: a newer notice of the same incident has a message for this customer
  and channel (not suppressed or cancelled) → the row is `superseded`, not
  sent;
- held: an older notice's message for this customer and channel is being
  sent under a running lease → the row goes back to `pending`, due when that
  lease runs out (at most HOLD_SECONDS from now), and is checked again then.

A notice is sent only if, when its worker looked after claiming it, no newer
one existed; a newer one appearing after that waits while the older row is
`sending`, which it stays until it is recorded sent. So the older one is
always handed over first. A root-cause report is news of its own and takes
part in neither check.
"""

import datetime
import logging

from django.db.models import F
from django.utils import timezone

from delivery.models import Message, MessageStatus
from delivery.recording import log_event

logger = logging.getLogger("proactive.delivery")

HOLD_SECONDS = 2
SUPERSEDED_REASON = "A newer notice of the same incident exists; only the latest is sent."
HELD_REASON = "Waiting for an earlier notice of the same incident to this customer to be sent."
NOT_NEWS = (MessageStatus.SUPPRESSED, MessageStatus.CANCELLED)


def _incident_notices(messages: list[Message]) -> dict[int, list[Message]]:
    """The batch's messages of incident notices, by notification."""
    found: dict[int, list[Message]] = {}
    for message in messages:
        notification = message.notification if message.notification_id else None
        if (
            notification is not None
            and notification.incident_id
            and notification.kind != "rca"
            and message.customer_id
        ):
            found.setdefault(notification.pk, []).append(message)
    return found


def _notice_order(incident_ids: set[int]) -> dict[int, list[int]]:
    """Each incident's started notices (root-cause reports and cancelled
    notices aside: a cancel's rows may not all be marked yet, and none of
    them will be sent), oldest first: the order their customers must hear
    them in."""
    from notifications.models import Notification

    order: dict[int, list[int]] = {}
    rows = (
        Notification.objects.filter(incident_id__in=incident_ids, started_at__isnull=False)
        .exclude(kind=Notification.Kind.RCA)
        .exclude(status=Notification.Status.CANCELLED)
        .order_by("started_at", "id")
        .values_list("incident_id", "pk")
    )
    for incident_id, pk in rows:
        order.setdefault(incident_id, []).append(pk)
    return order


def _siblings(notices: list[int], messages: list[Message]):
    return Message.objects.filter(
        notification_id__in=notices,
        customer_id__in={m.customer_id for m in messages},
        channel__in={m.channel for m in messages},
    )


def _settle(messages: list[Message], status: str, event: str, **fields) -> set[int]:
    """Move claimed rows to `status` (only those still ours), giving their
    attempt back; returns the ids moved."""
    now = timezone.now()
    ids = [m.pk for m in messages]
    ours = list(
        Message.objects.filter(pk__in=ids, status=MessageStatus.SENDING).values_list(
            "pk", flat=True
        )
    )
    Message.objects.filter(pk__in=ours, status=MessageStatus.SENDING).update(
        status=status, attempts=F("attempts") - 1, updated_at=now, **fields
    )
    moved = set(ours)
    for message in messages:
        if message.pk in moved:
            message.status, message.attempts = status, message.attempts - 1
            log_event(message, event, status=status)
    return moved


def messages_keep_notice_order(*, messages: list[Message]) -> set[int]:
    """Right after a claim: supersede the batch's stale incident notices and
    hold back those an older notice's send is still ahead of. Returns the
    ids of the rows settled here (not to be sent by this batch). No query for
    a batch without incident notices."""
    by_notice = _incident_notices(messages)
    if not by_notice:
        return set()
    incidents = {msgs[0].notification.incident_id for msgs in by_notice.values()}
    order = _notice_order(incidents)
    now = timezone.now()
    stale: list[Message] = []
    held: list[Message] = []
    lease_ends: list[datetime.datetime] = []
    placed = []
    for notification_id, notice_messages in by_notice.items():
        notices = order.get(notice_messages[0].notification.incident_id, [])
        if notification_id in notices:
            position = notices.index(notification_id)
            placed.append((notice_messages, notices[position + 1 :], notices[:position]))
    for notice_messages, newer, _ in placed:
        if newer:
            told_later = set(
                _siblings(newer, notice_messages)
                .exclude(status__in=NOT_NEWS)
                .values_list("customer_id", "channel")
            )
            stale += [m for m in notice_messages if (m.customer_id, m.channel) in told_later]
    stale_ids = {m.pk for m in stale}
    for notice_messages, _, older in placed:
        if older:
            in_flight = {
                (customer_id, channel): lease_end
                for customer_id, channel, lease_end in _siblings(older, notice_messages)
                .filter(status=MessageStatus.SENDING, next_attempt_at__gt=now)
                .exclude(pk__in=stale_ids)
                .values_list("customer_id", "channel", "next_attempt_at")
            }
            for m in notice_messages:
                if (m.customer_id, m.channel) in in_flight and m.pk not in stale_ids:
                    held.append(m)
                    lease_ends.append(in_flight[(m.customer_id, m.channel)])
    settled: set[int] = set()
    if stale:
        settled |= _settle(
            stale,
            MessageStatus.SUPERSEDED,
            "superseded: a newer notice of the incident exists",
            next_attempt_at=None,
            last_error=SUPERSEDED_REASON,
        )
    if held:
        due = min(max(lease_ends), now + datetime.timedelta(seconds=HOLD_SECONDS))
        settled |= _settle(
            held,
            MessageStatus.PENDING,
            "held: an earlier notice of the incident is being sent",
            next_attempt_at=due,
            last_error=HELD_REASON,
        )
    if settled:
        logger.info(
            "incident notices kept in order",
            extra={"superseded": len(stale), "held": len(held)},
        )
    return settled
