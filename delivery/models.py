from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DEFERRED = "deferred", "Deferred"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    SUPPRESSED = "suppressed", "Suppressed"
    # A newer notice of the same incident reached the queue first.
    SUPERSEDED = "superseded", "Superseded"


# Rows a worker may still pick up; `next_attempt_at` is when: the start for
# pending rows, the retry or window time for deferred rows, and the lease
# deadline for sending rows (a row whose lease passed is due again).
OPEN_STATUSES = (MessageStatus.PENDING, MessageStatus.DEFERRED, MessageStatus.SENDING)
# Statuses message_notification_live holds (every one but those a cancel or
# a supersession writes to many rows at once).
INDEXED_BY_NOTIFICATION = [
    status
    for status in MessageStatus.values
    if status not in (MessageStatus.CANCELLED, MessageStatus.SUPERSEDED)
]


class Message(models.Model):
    """One email or SMS to one address: the unit of the delivery queue.

    A notification's messages have `notification` and `customer` set, and
    their content is rendered from the notification at send time. Standalone
    (transactional) messages carry their own subject/body/html.
    """

    # No database-level foreign keys on these two: a notification's rows are
    # written 100,000 at a time by one INSERT … SELECT that takes the ids from
    # the tables themselves, and checking each row's two references again at
    # commit costs more than the insert (7 s instead of 1 s on PostgreSQL).
    # Django still applies on_delete; a message whose customer vanished is
    # suppressed at send time.
    notification = models.ForeignKey(
        "notifications.Notification",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,  # indexed by the unique constraint (and message_notification_live)
        db_constraint=False,
    )
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the provider or gateway reported it delivered to the recipient.
    delivered_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    segments = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Conditioned on the notification only (a NULL customer never
            # conflicts anyway), so that it also serves every query by
            # notification alone: message_notification_live leaves some
            # statuses out, and PostgreSQL uses a partial index only for
            # queries that imply its condition.
            models.UniqueConstraint(
                fields=["notification", "customer", "channel"],
                condition=Q(notification__isnull=False),
                name="message_one_per_recipient_channel",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "deferred", "sending"]),
                name="message_due_idx",
            ),
            # A notification's rows by status, but for those a cancel or a
            # supersession marks in bulk: a row leaving for those statuses
            # then writes three index entries instead of four (marking a
            # range of 47,500 rows: 0.80–1.00 s instead of 1.01–1.10 s).
            # A notification's cancelled or superseded rows, and its rows
            # whatever their status, are found through
            # message_one_per_recipient_channel.
            models.Index(
                fields=["notification", "status"],
                condition=Q(status__in=INDEXED_BY_NOTIFICATION),
                name="message_notification_live",
            ),
            # Retention finds old transactional messages (few rows) through it.
            models.Index(
                fields=["created_at"],
                condition=Q(notification__isnull=True),
                name="message_transactional_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk} to {self.to_address or '-'} ({self.status})"


class SentMark(models.Model):
    """A message a drain lane handed to the mail server or SMS gateway, not
    yet recorded on its Message row: one small INSERT per message (no
    trigger, one index) instead of an UPDATE of the large, many-indexed
    message table. The lane moves its marks onto the rows in one statement
    every short run (delivery/recording.py); claims pass over a marked row,
    and the dispatcher applies the marks a dead worker left."""

    # The message's id; no foreign key, so writing a mark reads and locks nothing.
    message_id = models.BigIntegerField(primary_key=True)
    sent_at = models.DateTimeField()
    provider_id = models.CharField(max_length=255, blank=True)
    segments = models.PositiveSmallIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"message #{self.message_id} sent at {self.sent_at:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(models.Model):
    """An email or SMS captured instead of sent (no SMTP server or SMS gateway
    configured), so staff can read exactly what would have gone out."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=1000)
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox_copies"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to}: {self.subject or self.body[:40]}"


class DrainSignal(models.Model):
    """A drain task the dispatcher has enqueued and no worker has started yet.

    Counting these keeps the dispatcher at one task per batch of due rows; a
    signal older than its time to live is presumed lost with its broker
    message and forgotten, so the rows it covered are dispatched again.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"drain signal #{self.pk}"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    SMS_STOP = "sms_stop", "SMS STOP"
    MANUAL = "manual", "Added by staff"


class Suppression(models.Model):
    """An address nothing more is sent to on a channel: it bounced, its owner
    complained or texted STOP, or staff put it here. Email addresses are kept
    in lower case, phones in E.164, so a join on the customer's address finds
    them."""

    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=254)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address"], name="suppression_one_per_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.address} ({self.reason})"


class RateLimitSlot(models.Model):
    """A channel's next free send moment (Unix seconds) for the shared rate
    limit, when no Redis is configured (see delivery.ratelimit)."""

    channel = models.CharField(max_length=8, choices=Channel.choices, primary_key=True)
    next_free = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"{self.channel} next send at {self.next_free}"


class DeliveryCounter(models.Model):
    """A running total for /metrics (messages sent, failed, deferred per
    channel; send time buckets), added to by every worker at the end of each
    batch. See delivery/tally.py."""

    key = models.CharField(max_length=100, primary_key=True)
    value = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.key} = {self.value:g}"


class MessageTally(models.Model):
    """How many of a notification's messages are in each status, per channel:
    what the statistics read instead of counting the Message table.

    Database triggers on the message table keep it (see
    delivery/migrations/0007_message_tally.py): every statement that
    inserts messages or changes their status adds its counts in the same
    transaction, whoever runs it, so the tally is exact by construction and
    a worker killed mid-send leaves nothing uncounted. Deleting messages
    (retention) leaves it alone: a purged notification keeps its counts.

    A notification's figure for a channel and status is the sum over its
    shards: each database session adds to the shard of its backend process,
    so concurrent workers do not queue on one row. `first_sent_at` and
    `last_sent_at` (on the `sent` rows) are the earliest and latest send
    time ever counted."""

    SHARDS = 16

    notification = models.ForeignKey(
        "notifications.Notification",
        on_delete=models.CASCADE,
        related_name="message_tallies",
        db_index=False,  # the unique constraint starts with it
        # A foreign key check would lock the notification's row against a
        # cancel (SELECT … FOR UPDATE) on every message a worker records.
        db_constraint=False,
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    shard = models.SmallIntegerField(default=0)
    # May be negative in one shard (a message counted into `sending` by one
    # session and out of it by another); the sum over shards is the count.
    n = models.BigIntegerField(default=0)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel", "status", "shard"],
                name="message_tally_one_per_shard",
            )
        ]

    def __str__(self) -> str:
        return f"notification #{self.notification_id} {self.channel} {self.status}: {self.n}"
