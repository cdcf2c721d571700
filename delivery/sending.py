"""Sending a claimed batch: load the rows, and per message check, render,
pass the cancel fence, send over the batch's connections, record.

`message_batch_deliver` is one batch (a drain lane calls it again and
again, see delivery.lanes); `message_deliver_now` sends one test copy in the
caller's process through the same steps."""

import datetime
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from customers.models import PREFERENCE_FIELDS
from delivery import hooks
from delivery.bulk import CANCELLED_REASON, messages_cancel
from delivery.channels import TransportError
from delivery.channels.email import EmailTransport
from delivery.channels.sms import sms_size, sms_transport
from delivery.checks import verdict
from delivery.claims import message_claim_batch, message_claim_one, messages_release
from delivery.fence import CancelFence
from delivery.models import Channel, Message, MessageStatus
from delivery.notice_order import messages_keep_notice_order
from delivery.ratelimit import RateLimiter
from delivery.recording import (
    SentRecorder,
    log_event,
    record_failure,
    record_outcome,
    record_verdict,
    relaxed_commits,
)
from delivery.rendering import Renderer
from delivery.selectors import NOTIFICATION_CANCELLED
from delivery.tally import send_observe, tally_flush

logger = logging.getLogger("proactive.delivery")


@dataclass
class Transports:
    """Connections opened on first use and kept for the whole batch."""

    _email: EmailTransport | None = None
    _sms: object | None = None
    _limits: dict = field(default_factory=dict)

    def rate_limit(self, channel: str) -> RateLimiter:
        """The shared send-rate ceiling of the channel (a no-op when unset)."""
        if channel not in self._limits:
            self._limits[channel] = RateLimiter(channel)
        return self._limits[channel]

    def for_channel(self, channel: str):
        if channel == Channel.EMAIL:
            if self._email is None:
                self._email = EmailTransport()
            return self._email
        if self._sms is None:
            self._sms = sms_transport()
        return self._sms

    def abandon(self) -> None:
        """The message announced to the mail server as next will not be sent."""
        if self._email is not None:
            self._email.abandon()

    def close(self) -> None:
        for transport in (self._email, self._sms):
            if transport is not None:
                transport.close()
        for limit in self._limits.values():
            limit.close()


@dataclass
class BatchResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    notification_ids: set[int] = field(default_factory=set)


def _precheck(message: Message, now: datetime.datetime) -> bool:
    """True when the message should be sent now; otherwise the checks'
    verdict has been recorded."""
    stopped = verdict(message, now)
    if stopped is None:
        return True
    record_verdict(message, stopped)
    return False


def message_send_one(
    message: Message,
    transports: Transports,
    renderer: Renderer,
    fence: CancelFence,
    next_message: Message | None = None,
) -> None:
    """Render, pass the cancel fence, send, record. `next_message` is the
    message that will be sent next over the same connection, if known."""
    transport = transports.for_channel(message.channel)
    try:
        outgoing = renderer.outgoing(message)
    except Exception as exc:
        record_outcome(
            message,
            MessageStatus.FAILED,
            last_error=f"The message could not be rendered: {exc}",
            next_attempt_at=None,
        )
        return
    segments = sms_size(outgoing.text).segments if message.channel == Channel.SMS else None
    admitted = fence.admit(message)
    if admitted:
        # The send slot. A wait for it that would hold a cancel up past the
        # fence's bound lets go of the fence and passes it again after.
        admitted = fence.pause(message, transports.rate_limit(message.channel).take())
    if not admitted:
        log_event(message, "skipped: the notification was cancelled")
        if message.channel == Channel.EMAIL:
            transport.abandon()
        return
    started = time.perf_counter()
    try:
        if next_message is not None and message.channel == Channel.EMAIL:
            following = (next_message.pk, next_message.to_address)
            provider_id = transport.send(outgoing, next_message=following)
        else:
            provider_id = transport.send(outgoing)
    except TransportError as error:
        record_failure(message, error)
        return
    finally:
        send_observe(channel=message.channel, seconds=time.perf_counter() - started)
    fence.recorder.record(message, provider_id=provider_id[:255], segments=segments)


def _next_to_send(messages: list[Message], index: int, now: datetime.datetime) -> Message | None:
    """The batch's next message if it goes over the same connection and
    will be sent (its checks pass now), for the transport to prepare."""
    if index >= len(messages):
        return None
    candidate = messages[index]
    if (
        candidate.channel != Channel.EMAIL
        or candidate.attempts > settings.DELIVERY_MAX_ATTEMPTS
        or verdict(candidate, now) is not None
    ):
        return None
    return candidate


# What the checks, the templates and the transports read of a message and
# its customer; anything else would be read by one query per row.
_MESSAGE_READ = (
    "notification",
    "customer",
    "channel",
    "to_address",
    "subject",
    "body",
    "html",
    "status",
    "attempts",
)
_CUSTOMER_READ = (
    "name",
    "account_number",
    "location",
    *PREFERENCE_FIELDS,
    "marketing_opt_in",
    "is_active",
    "last_mile_site__code",
    "last_mile_site__name",
    "service_type__name",
)


def messages_load(ids: list[int]) -> list[Message]:
    """The claimed rows with what sending them reads, and each notification
    and customer once per batch rather than once per row. The customers come
    by their ids in a second query: joined to the messages, PostgreSQL reads
    every customer of a directory of tens of thousands to find a batch's 500
    (40 ms a batch, as much as the batch's sending). Their ids go as one
    array (`any_of`): a prefetch built an expression per id (65–68 µs of
    worker CPU per email to load a batch of 500; 42–49 µs this way)."""
    from customers.models import Customer
    from notifications.models import Notification

    messages = list(Message.objects.filter(pk__any_of=ids).only(*_MESSAGE_READ).order_by("pk"))
    wanted = list({message.customer_id for message in messages if message.customer_id})
    customers = (
        {
            customer.pk: customer
            for customer in Customer.objects.filter(pk__any_of=wanted)
            .select_related("last_mile_site", "service_type")
            .only(*_CUSTOMER_READ)
        }
        if wanted
        else {}
    )
    notifications = Notification.objects.select_related("incident").in_bulk(
        {message.notification_id for message in messages if message.notification_id}
    )
    to_customer = Message._meta.get_field("customer")
    to_notification = Message._meta.get_field("notification")
    for message in messages:
        if message.customer_id:
            # None for a customer deleted since: suppressed at send time.
            to_customer.set_cached_value(message, customers.get(message.customer_id))
        if message.notification_id:
            to_notification.set_cached_value(message, notifications[message.notification_id])
    return messages


def _rows_of_cancelled(messages: list[Message]) -> list[Message]:
    """The claimed rows of notifications cancelled when the batch was
    loaded, marked `cancelled` in one statement (the fence would stop each
    of them anyway, one by one, after rendering it)."""
    halted = [
        message
        for message in messages
        if message.notification_id and message.notification.status == NOTIFICATION_CANCELLED
    ]
    if halted:
        now = timezone.now()
        Message.objects.filter(
            pk__in=[message.pk for message in halted], status=MessageStatus.SENDING
        ).update(
            status=MessageStatus.CANCELLED,
            next_attempt_at=None,
            last_error=CANCELLED_REASON,
            updated_at=now,
        )
        for message in halted:
            message.status = MessageStatus.CANCELLED
    return halted


def _send_deadline() -> float:
    """A batch hands messages over for half its lease at most. The other
    half is for the message in progress (a slow server may take several
    timeouts): the lease must never run out while this worker may still
    send one of its rows, or another worker would claim and send it too."""
    return time.monotonic() + settings.DELIVERY_LEASE_SECONDS / 2


def message_batch_deliver(
    *,
    limit: int | None = None,
    signal_id: int | None = None,
    transports: Transports | None = None,
    renderer: Renderer | None = None,
    recorder: SentRecorder | None = None,
) -> BatchResult:
    """Claim one batch and deliver it."""
    result = BatchResult()
    send_until = _send_deadline()  # the lease starts with the claim
    ids = message_claim_batch(limit=limit, signal_id=signal_id)
    result.claimed = len(ids)
    if not ids:
        return result
    messages = messages_load(ids)
    halted = _rows_of_cancelled(messages)
    settled = {message.pk for message in halted}
    settled |= messages_keep_notice_order(
        messages=[message for message in messages if message.pk not in settled]
    )
    logger.info("batch claimed", extra={"claimed": len(ids), "first_id": ids[0]})
    relaxed_commits(True)
    own_transports, own_recorder = transports is None, recorder is None
    transports = transports or Transports()
    renderer = renderer or Renderer()
    renderer.prepare(messages)
    recorder = recorder or SentRecorder()
    fence = CancelFence(recorder)
    try:
        for index, message in enumerate(messages):
            if message.notification_id:
                result.notification_ids.add(message.notification_id)
            if message.pk in settled:
                continue  # superseded or held back to keep the incident's notices in order
            if time.monotonic() > send_until:
                transports.abandon()
                messages_release(messages[index:])
                result.notification_ids.update(
                    m.notification_id for m in messages[index:] if m.notification_id
                )
                break
            if message.attempts > settings.DELIVERY_MAX_ATTEMPTS:
                record_outcome(
                    message,
                    MessageStatus.FAILED,
                    last_error=f"Gave up after {message.attempts - 1} attempts.",
                    next_attempt_at=None,
                )
            elif _precheck(message, now := timezone.now()):
                next_message = _next_to_send(messages, index + 1, now)
                message_send_one(message, transports, renderer, fence, next_message)
    finally:
        fence.release()
        if own_recorder:
            recorder.close()
        if own_transports:
            transports.close()
        relaxed_commits(False)
        tally_flush()
    for notification_id in sorted({message.notification_id for message in halted}):
        # Rows of a cancelled notification not marked yet (its task is on
        # it): help with one range, so they leave the queue sooner.
        messages_cancel(notification_id=notification_id, now=timezone.now(), ranges=1)
    for message in messages:
        result.outcomes[message.status] = result.outcomes.get(message.status, 0) + 1
    if result.notification_ids:
        hooks.notifications_touched.send(notification_ids=sorted(result.notification_ids))
    return result


def message_deliver_now(*, message: Message) -> Message:
    """Send one freshly written message at once, in the caller's process
    (test sends): same checks, transports and recording as a batch. Sends
    only if this call claims it: a drain that claimed it first sends it."""
    claimed = message_claim_one(message_id=message.pk)
    message.refresh_from_db()
    if not claimed:
        return message
    transports = Transports()
    try:
        if _precheck(message, timezone.now()):
            recorder = SentRecorder(overlap=False)
            message_send_one(message, transports, Renderer(), CancelFence(recorder))
    finally:
        transports.close()
        tally_flush()
    message.refresh_from_db()
    return message
