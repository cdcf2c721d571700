"""The delivery pipeline: the database is the queue, Celery only says "there
is work". See "The delivery pipeline" in the design notes.

dispatch (beat, every few seconds) → tickets + drain tasks → claim a batch →
per message: check (end, window, opt-out, cancel), render, send over one
connection, record."""

import datetime
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, F, Min, OuterRef, Q, QuerySet
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from delivery import hooks, suppression
from delivery.channels import Outgoing, TransportError
from delivery.channels.email import EmailTransport
from delivery.channels.sms import sms_size, sms_transport
from delivery.headers import email_decorate, email_message_id
from delivery.models import (
    OPEN_STATUSES,
    Channel,
    DispatchTicket,
    Message,
    MessageStatus,
)
from delivery.notice_order import messages_keep_notice_order
from delivery.ratelimit import RateLimiter
from delivery.recording import SentRecorder, execute_prepared, log_event
from delivery.suppression import (
    SUPPRESSED_INACTIVE,
    SUPPRESSED_NO_ADDRESS,
    SUPPRESSED_NO_MARKETING,
    SUPPRESSED_OPTED_OUT,
)
from delivery.tally import send_observe, tally_flush
from delivery.windows import window_next_opening

logger = logging.getLogger("proactive.delivery")

# The dispatcher keeps at most this many drain tasks waiting in the broker.
# A drain task goes on to the next batch while full batches keep coming, so a
# waiting task means every worker is busy: more would only queue up.
MAX_WAITING_TASKS = 8


def _nudge_dispatcher() -> None:
    """Ask for a dispatch now rather than at the next beat. Losing this
    signal (broker down) costs only latency: the beat sweep finds the rows."""
    from delivery.tasks import dispatch_due_messages

    try:
        dispatch_due_messages.delay()
    except Exception as exc:
        logger.warning("could not signal the dispatcher: %s", exc)


def message_nudge_on_commit() -> None:
    transaction.on_commit(_nudge_dispatcher)


# --- enqueueing -----------------------------------------------------------


@dataclass(frozen=True)
class TransactionalEmail:
    to: str
    subject: str
    body: str
    html: str = ""
    customer: object = None  # the customers.Customer it is about, if any


def transactional_emails_enqueue(*, emails: list[TransactionalEmail]) -> list[Message]:
    """Queue emails that belong to no notification (ticket updates, account
    approval, reports) with one INSERT and one nudge: a ticket change often
    tells the customer and the engineer at once. They go through the same
    pipeline: retried on transient errors, no contact window."""
    now = timezone.now()
    messages = Message.objects.bulk_create(
        Message(
            customer=email.customer,
            channel=Channel.EMAIL,
            to_address=email.to,
            subject=email.subject.replace("\r", " ").replace("\n", " "),
            body=email.body,
            html=email.html,
            status=MessageStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for email in emails
    )
    for message in messages:
        log_event(message, "queued", status=message.status, to=message.to_address)
    if messages:
        message_nudge_on_commit()
    return messages


def transactional_email_enqueue(
    *, to: str, subject: str, body: str, html: str = "", customer=None
) -> Message:
    """Queue one such email."""
    email = TransactionalEmail(to=to, subject=subject, body=body, html=html, customer=customer)
    [message] = transactional_emails_enqueue(emails=[email])
    return message


def transactional_sms_enqueue(*, to: str, text: str, customer=None) -> Message:
    now = timezone.now()
    message = Message.objects.create(
        customer=customer,
        channel=Channel.SMS,
        to_address=to,
        body=text,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    log_event(message, "queued", status=message.status, to=to)
    message_nudge_on_commit()
    return message


def messages_materialise(
    *, notification, customers: QuerySet, channels: list[str], fresh: bool = False
) -> int:
    """Write one Message row per (customer, channel) with a single
    INSERT … SELECT per channel; rows that already exist are left alone.
    Opted-out customers, inactive ones, missing addresses, listed addresses
    and (for marketing) customers without marketing consent get `suppressed`
    rows with the reason, so the statistics account for everyone. Customers
    unreachable on the notification's channel then get one row on its
    fallback channel. Returns the number of rows written.

    `fresh`: the caller holds the notification's row lock and it has no
    messages yet, so the conflict check (a second pass over the unique index
    for every row) can be skipped; the unique constraint still stands guard."""
    subquery, sub_params = customers.order_by().values("pk").query.sql_with_params()
    marketing = getattr(notification, "category", "service") == "marketing"
    written = 0
    for channel in channels:
        sql, params = suppression.messages_insert_sql(
            notification_id=notification.pk,
            channel=channel,
            marketing=marketing,
            customers_sql=subquery,
            customers_params=list(sub_params),
            on_conflict="" if fresh else "ON CONFLICT DO NOTHING",
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            written += max(cursor.rowcount, 0)
    written += suppression.fallback_materialise(
        notification=notification, customers_sql=subquery, customers_params=list(sub_params)
    )
    logger.info(
        "messages materialised",
        extra={"notification_id": notification.pk, "written": written, "channels": channels},
    )
    message_nudge_on_commit()
    return written


SUPERSEDED_REASON = "A newer notice of the same incident was queued; only the latest is sent."


def messages_supersede(*, newer_notification_id: int, older_notification_ids: list[int]) -> int:
    """No stale notices: every undelivered message of the older notices to a
    customer and channel the newer notice has a message for becomes
    `superseded`, in one UPDATE. A row being sent right now (its lease still
    running) is left to its worker; one whose lease ran out (the worker
    died) is superseded like a waiting one. Returns the rows changed."""
    now = timezone.now()
    newer = Message.objects.filter(
        notification_id=newer_notification_id,
        customer_id=OuterRef("customer_id"),
        channel=OuterRef("channel"),
    ).exclude(status__in=(MessageStatus.SUPPRESSED, MessageStatus.CANCELLED))
    undelivered = Q(status__in=(MessageStatus.PENDING, MessageStatus.DEFERRED)) | Q(
        status=MessageStatus.SENDING, next_attempt_at__lt=now
    )
    superseded = (
        Message.objects.filter(notification_id__in=older_notification_ids)
        .filter(undelivered)
        .filter(Exists(newer))
        .update(
            status=MessageStatus.SUPERSEDED,
            next_attempt_at=None,
            last_error=SUPERSEDED_REASON,
            updated_at=now,
        )
    )
    logger.info(
        "messages superseded",
        extra={"notification_id": newer_notification_id, "superseded": superseded},
    )
    return superseded


# --- dispatch ---------------------------------------------------------------


def _due(now: datetime.datetime) -> QuerySet:
    return Message.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)


def _dispatcher_lock() -> None:
    # SQLite transactions here are IMMEDIATE: one writer at a time already.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x5052_4F41])


def message_dispatch_due(*, now: datetime.datetime | None = None) -> int:
    """Enqueue one drain task per batch of due rows not already covered by a
    waiting task. Returns how many tasks were enqueued."""
    from delivery.tasks import drain_messages

    now = now or timezone.now()
    batch = settings.DELIVERY_BATCH_SIZE
    ticket_ttl = datetime.timedelta(seconds=max(5, settings.DELIVERY_LEASE_SECONDS // 2))
    with transaction.atomic():
        _dispatcher_lock()
        DispatchTicket.objects.filter(created_at__lt=now - ticket_ttl).delete()
        waiting = DispatchTicket.objects.count()
        due = _due(now).values("pk")[: MAX_WAITING_TASKS * batch].count()
        wanted = min(math.ceil(due / batch), MAX_WAITING_TASKS) - waiting
        if wanted <= 0:
            return 0
        tickets = DispatchTicket.objects.bulk_create(
            [DispatchTicket(created_at=now) for _ in range(wanted)]
        )
        ticket_ids = [t.pk for t in tickets]

        def enqueue() -> None:
            for ticket_id in ticket_ids:
                drain_messages.delay(ticket_id=ticket_id)

        transaction.on_commit(enqueue)
    logger.info("dispatched drain tasks", extra={"tasks": wanted, "due": due})
    return wanted


# --- claim ----------------------------------------------------------------


def message_claim_batch(
    *,
    limit: int | None = None,
    now: datetime.datetime | None = None,
    ticket_id: int | None = None,
):
    """Atomically take up to `limit` due rows: status `sending`, a lease
    deadline, one more attempt. PostgreSQL skips rows other workers hold.
    The drain task's dispatch ticket goes in the same transaction, so the
    dispatcher never sees the rows still due and their ticket already gone."""
    now = now or timezone.now()
    limit = limit or settings.DELIVERY_BATCH_SIZE
    lease_until = now + datetime.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(limit=limit, now=now, until=lease_until, ticket_id=ticket_id)
    with transaction.atomic():
        if ticket_id is not None:
            DispatchTicket.objects.filter(pk=ticket_id).delete()
        ids = list(_due(now).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
        if ids:
            Message.objects.filter(pk__in=ids).update(
                status=MessageStatus.SENDING,
                attempts=F("attempts") + 1,
                next_attempt_at=lease_until,
                updated_at=now,
            )
    return ids


_CLAIM_SQL = """
WITH ticket AS (DELETE FROM {tickets} WHERE id = %(ticket)s)
UPDATE {messages}
SET status = %(sending)s, attempts = attempts + 1, next_attempt_at = %(until)s,
    updated_at = %(now)s
WHERE id = ANY(ARRAY(
    SELECT id FROM {messages}
    WHERE status = ANY(%(open)s) AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
))
RETURNING id
"""


def _claim_in_one_statement(
    *, limit: int, now: datetime.datetime, until: datetime.datetime, ticket_id: int | None
) -> list[int]:
    """The claim as one statement (one round trip, no transaction to open
    and commit): rows other workers hold are skipped, and the ticket goes
    with the rows it stood for."""
    quote = connection.ops.quote_name
    sql = _CLAIM_SQL.format(
        tickets=quote(DispatchTicket._meta.db_table), messages=quote(Message._meta.db_table)
    )
    params = {
        "ticket": ticket_id,
        "sending": MessageStatus.SENDING.value,
        "until": until,
        "now": now,
        "open": [status.value for status in OPEN_STATUSES],
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def message_claims_expire(*, claimed_before: datetime.datetime) -> int:
    """End the lease of every row claimed before `claimed_before`: they are
    due at once, as if their lease had run out. Only for a worker that knows
    it is the only one (DELIVERY_SOLE_WORKER): the claims of a predecessor
    that died are orphans, and waiting out their lease only delays them. The
    message that predecessor had in flight may go twice, as after any lease."""
    now = timezone.now()
    expired = Message.objects.filter(
        status=MessageStatus.SENDING, updated_at__lt=claimed_before, next_attempt_at__gt=now
    ).update(next_attempt_at=now)
    if expired:
        logger.info("claims of a previous worker given back", extra={"messages": expired})
    return expired


# --- check, render, send, record ------------------------------------------


def retry_delay(*, attempts: int) -> datetime.timedelta:
    """Exponential backoff with jitter: half the delay fixed, half random."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    delay = min(settings.DELIVERY_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    return datetime.timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))


def _record_sql(message_id: int, **fields) -> tuple[str, list]:
    """UPDATE … SET fields WHERE id = message_id AND status = 'sending'."""
    query = Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).query
    query = query.chain(UpdateQuery)
    query.add_update_values(fields)
    sql, params = query.get_compiler(connection.alias).as_sql()
    return sql, list(params)


def _record(message: Message, status: str, *, event: str | None = None, **fields) -> bool:
    """Move a claimed row to its outcome, only if it is still ours (a cancel
    may have taken it meanwhile)."""
    now = timezone.now()
    # Prepared like the sent UPDATE, so it too always goes by primary key.
    updated = execute_prepared(*_record_sql(message.pk, status=status, updated_at=now, **fields))
    if updated:
        message.status = status
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(message, name, value)
        log_event(message, event or status, status=status, error=fields.get("last_error", ""))
    return bool(updated)


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


class _Renderer:
    """Compiles each notification's templates once per batch."""

    def __init__(self):
        self._compiled: dict[tuple[int, str], object] = {}
        self._incidents: dict[int, dict | None] = {}
        self._thread_roots: dict[tuple[int, int], int] = {}

    def prepare(self, messages: list[Message]) -> None:
        """Find, in one query, the first notice of its incident each of the
        batch's incident emails answers (the root of the customer's thread)."""
        self._thread_roots = {}
        wanted = [
            (m.notification.incident_id, m.customer_id)
            for m in messages
            if m.notification_id
            and m.notification.incident_id
            and m.customer_id
            and m.channel == Channel.EMAIL
        ]
        if not wanted:
            return
        rows = (
            Message.objects.filter(
                notification__incident_id__in={incident for incident, _ in wanted},
                customer_id__in={customer for _, customer in wanted},
                channel=Channel.EMAIL,
            )
            .values_list("notification__incident_id", "customer_id")
            .annotate(first=Min("notification_id"))
            .order_by()
        )
        self._thread_roots = {(incident, customer): first for incident, customer, first in rows}

    def _headers(self, message: Message) -> dict:
        notification = message.notification
        if message.channel != Channel.EMAIL or not message.customer_id:
            return {}
        own = email_message_id(
            message_id=message.pk, notification_id=notification.pk, customer_id=message.customer_id
        )
        headers = {"Message-ID": own}
        root = self._thread_roots.get((notification.incident_id, message.customer_id))
        if notification.incident_id and root and root != notification.pk:
            first = email_message_id(
                message_id=None, notification_id=root, customer_id=message.customer_id
            )
            headers["In-Reply-To"] = first
            headers["References"] = first
        return headers

    def outgoing(self, message: Message) -> Outgoing:
        outgoing = self._rendered(message)
        if message.channel != Channel.EMAIL:
            return outgoing
        notification = message.notification
        return email_decorate(
            outgoing=outgoing,
            notification_id=message.notification_id,
            customer_id=message.customer_id,
            category=notification.category if notification is not None else "service",
        )

    def _rendered(self, message: Message) -> Outgoing:
        from notifications import templating

        notification = message.notification
        if notification is None:
            return Outgoing(
                message_id=message.pk,
                to=message.to_address,
                subject=message.subject,
                text=message.body,
                html=message.html,
            )
        key = (notification.pk, message.channel)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = templating.notification_compile_for(
                notification=notification, channel=message.channel
            )
            self._compiled[key] = compiled
            self._incidents[notification.pk] = templating.incident_values(
                notification.incident if notification.incident_id else None
            )
        rendered = templating.notification_render(
            notification=notification,
            customer=templating.customer_values(message.customer),
            channel=message.channel,
            compiled=compiled,
            incident=self._incidents[notification.pk],
        )
        return Outgoing(
            message_id=message.pk,
            to=message.to_address,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            headers=self._headers(message),
        )


def _not_attempted() -> dict:
    """A message stopped by a check was not tried: its attempt is given back."""
    return {"attempts": F("attempts") - 1, "next_attempt_at": None}


def _verdict(message: Message, now: datetime.datetime) -> tuple[str, str | None, dict] | None:
    """The checks before sending, in the design's order, without side
    effects: None when the message should be sent now, else the status,
    log event and fields to record instead."""
    notification = message.notification
    customer = message.customer
    if notification is not None:
        if notification.end_at and now >= notification.end_at:
            error = "The notification ended before this message could be delivered."
            return MessageStatus.EXPIRED, None, {"last_error": error, **_not_attempted()}
        if customer is None:
            error = "The customer was deleted."
            return MessageStatus.SUPPRESSED, None, {"last_error": error, **_not_attempted()}
        if notification.respect_contact_window:
            opening = window_next_opening(
                now=now,
                tz_name=customer.timezone,
                start=customer.contact_window_start,
                end=customer.contact_window_end,
            )
            if opening is not None:
                if notification.end_at and opening >= notification.end_at:
                    error = "The customer's contact window opens only after the end."
                    return MessageStatus.EXPIRED, None, {"last_error": error, **_not_attempted()}
                return (
                    MessageStatus.DEFERRED,
                    "deferred to the contact window",
                    {
                        "last_error": "Outside the customer's contact window.",
                        **_not_attempted(),
                        "next_attempt_at": opening,
                    },
                )
        is_email = message.channel == Channel.EMAIL
        opted_in = customer.email_opt_in if is_email else customer.sms_opt_in
        if not opted_in or not customer.is_active:
            reason = SUPPRESSED_OPTED_OUT[message.channel] if not opted_in else SUPPRESSED_INACTIVE
            return MessageStatus.SUPPRESSED, None, {"last_error": reason, **_not_attempted()}
        if notification.category == "marketing" and not customer.marketing_opt_in:
            error = SUPPRESSED_NO_MARKETING  # consent withdrawn since the rows were written
            return MessageStatus.SUPPRESSED, None, {"last_error": error, **_not_attempted()}
    if not message.to_address:
        error = SUPPRESSED_NO_ADDRESS[message.channel]
        return MessageStatus.SUPPRESSED, None, {"last_error": error, **_not_attempted()}
    return None


def _precheck(message: Message, now: datetime.datetime) -> bool:
    """True when the message should be sent now; otherwise its outcome has
    been recorded."""
    verdict = _verdict(message, now)
    if verdict is None:
        return True
    status, event, fields = verdict
    _record(message, status, event=event, **fields)
    return False


def _record_failure(message: Message, error: TransportError) -> None:
    if error.retry_after is not None:
        # The gateway asked us to slow down: not this message's fault.
        _record(
            message,
            MessageStatus.DEFERRED,
            event="deferred: the gateway asked to retry later",
            last_error=error.message,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + datetime.timedelta(seconds=error.retry_after),
        )
        return
    if error.permanent:
        _record(message, MessageStatus.FAILED, last_error=error.message, next_attempt_at=None)
        suppression.message_failed_for_good(message=message, error=error)
    elif message.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        _record(
            message,
            MessageStatus.FAILED,
            event="failed: retries exhausted",
            last_error=f"{error.message} (gave up after {message.attempts} attempts)",
            next_attempt_at=None,
        )
    else:
        retry_at = timezone.now() + retry_delay(attempts=message.attempts)
        end_at = message.notification.end_at if message.notification else None
        if end_at and retry_at >= end_at:
            _record(
                message,
                MessageStatus.EXPIRED,
                last_error=f"{error.message} (the notification ends before the next retry)",
                next_attempt_at=None,
            )
        else:
            _record(
                message,
                MessageStatus.DEFERRED,
                event="deferred after a transient error",
                last_error=error.message,
                next_attempt_at=retry_at,
            )


# Advisory lock namespace for the cancel fence (the other key is the
# notification id).
CANCEL_FENCE_NAMESPACE = 0x5052
# A worker re-checks its notification at least this often: every so many
# messages or seconds, whichever comes first; a cancel waits at most that long.
FENCE_MESSAGES = 100
FENCE_SECONDS = 0.25


def cancel_fence_close(*, notification_id: int) -> None:
    """Inside the cancelling transaction: wait until no worker is in the
    middle of sending this notification's messages, and keep them out until
    the cancel commits (PostgreSQL; SQLite has a single writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [CANCEL_FENCE_NAMESPACE, notification_id % 2**31],
            )


class _CancelFence:
    """Before each send: is the notification still being sent?

    On PostgreSQL the worker holds a shared advisory lock on the
    notification while it sends a short run of its messages, and checks the
    status after taking it; a cancel takes the same lock exclusively. So a
    cancel waits for the run in progress, and once it commits no worker can
    hand over another of its messages. One status read per run instead of a
    locked read per message keeps the per-message cost at one UPDATE."""

    def __init__(self, recorder: SentRecorder):
        self.recorder = recorder
        self.notification_id: int | None = None
        self.open = False
        self.sent_in_run = 0
        self.run_started = 0.0
        self.postgres = connection.vendor == "postgresql"

    def admit(self, message: Message) -> bool:
        notification_id = message.notification_id
        if notification_id is None:
            return True
        stale = (
            self.sent_in_run >= FENCE_MESSAGES
            or time.monotonic() - self.run_started > FENCE_SECONDS
        )
        if notification_id != self.notification_id or stale:
            self.release()
            self._enter(notification_id)
        self.sent_in_run += 1
        return self.open

    def _enter(self, notification_id: int) -> None:
        from notifications.models import Notification

        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock_shared(%s, %s)",
                    [CANCEL_FENCE_NAMESPACE, notification_id % 2**31],
                )
        self.notification_id = notification_id
        self.open = Notification.objects.filter(
            pk=notification_id, status=Notification.Status.SENDING
        ).exists()
        self.sent_in_run = 0
        self.run_started = time.monotonic()

    def release(self) -> None:
        # The run's sent records first: a cancel that gets in next must find
        # every message handed over so far already recorded as sent.
        self.recorder.settle()
        if self.notification_id is not None and self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock_shared(%s, %s)",
                    [CANCEL_FENCE_NAMESPACE, self.notification_id % 2**31],
                )
        self.notification_id = None


def _send_one(
    message: Message,
    transports: Transports,
    renderer: _Renderer,
    fence: _CancelFence,
    then: Message | None = None,
) -> None:
    """Render, pass the cancel fence, send, record. `then` is the message
    that will be sent next over the same connection, if known."""
    transport = transports.for_channel(message.channel)
    try:
        outgoing = renderer.outgoing(message)
    except Exception as exc:
        _record(
            message,
            MessageStatus.FAILED,
            last_error=f"The message could not be rendered: {exc}",
            next_attempt_at=None,
        )
        return
    segments = sms_size(outgoing.text).segments if message.channel == Channel.SMS else None
    if not fence.admit(message):
        log_event(message, "skipped: the notification was cancelled")
        if message.channel == Channel.EMAIL:
            transport.abandon()
        return
    transports.rate_limit(message.channel).wait()
    started = time.perf_counter()
    try:
        if then is not None and message.channel == Channel.EMAIL:
            provider_id = transport.send(outgoing, then=(then.pk, then.to_address))
        else:
            provider_id = transport.send(outgoing)
    except TransportError as error:
        _record_failure(message, error)
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
        or _verdict(candidate, now) is not None
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
    "timezone",
    "contact_window_start",
    "contact_window_end",
    "email_opt_in",
    "sms_opt_in",
    "marketing_opt_in",
    "is_active",
    "last_mile_site__code",
    "last_mile_site__name",
    "service_type__name",
)


def _load(ids: list[int]) -> list[Message]:
    """The claimed rows with what sending them reads, and each notification
    once per batch rather than once per row."""
    from notifications.models import Notification

    messages = list(
        Message.objects.filter(pk__any_of=ids)
        .select_related("customer", "customer__last_mile_site", "customer__service_type")
        .only(*_MESSAGE_READ, *(f"customer__{name}" for name in _CUSTOMER_READ))
        .order_by("pk")
    )
    notifications = Notification.objects.select_related("incident").in_bulk(
        {message.notification_id for message in messages if message.notification_id}
    )
    cache = Message._meta.get_field("notification")
    for message in messages:
        if message.notification_id:
            cache.set_cached_value(message, notifications[message.notification_id])
    return messages


def _relaxed_commits(on: bool) -> None:
    """One commit per message keeps the duplicate window at one message per
    worker crash; waiting for a WAL flush on each would make the disk the
    limit. Without the wait, a crash of the database server itself (not of a
    worker) can forget the last fraction of a second of records, whose
    messages are then sent again: at-least-once still holds."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if on:
                cursor.execute("SET synchronous_commit TO off")
                # The prepared per-message UPDATE always by primary key. A
                # custom plan for `status = 'sending'` may pick the partial
                # index of due rows instead (its statistics from a quiet
                # moment say it is nearly empty) and scan every due row of a
                # large notification for each message: 4.5 ms instead of 0.07.
                cursor.execute("SET plan_cache_mode TO force_generic_plan")
            else:
                cursor.execute("RESET synchronous_commit")
                cursor.execute("RESET plan_cache_mode")


def drain_budget_seconds() -> float:
    """How long one drain task keeps taking batches: well inside the time
    after which the dispatcher presumes a waiting task lost."""
    return max(2.0, settings.DELIVERY_LEASE_SECONDS / 4)


def message_drain(*, ticket_id: int | None = None, budget_seconds: float | None = None) -> int:
    """The body of a drain task: deliver batch after batch over the same
    connections while full batches keep coming, for a bounded time.
    Returns how many messages were claimed.

    On PostgreSQL the task works DELIVERY_LANES lanes at once, each a thread
    with its own database and SMTP/HTTP connections: while one waits for the
    mail server or the database, another renders and sends. Each lane claims
    its own batches (SKIP LOCKED keeps them apart), so a crash of the worker
    leaves at most one message per lane accepted but unrecorded."""
    budget = drain_budget_seconds() if budget_seconds is None else budget_seconds
    lanes = settings.DELIVERY_LANES if connection.vendor == "postgresql" else 1
    if lanes <= 1:
        return _drain_lane(ticket_id=ticket_id, budget=budget)
    claimed = [0] * lanes
    errors: list[BaseException] = []

    def lane(index: int) -> None:
        try:
            claimed[index] = _drain_lane(ticket_id=None, budget=budget)
        except BaseException as exc:  # reported below; the lease frees its rows
            logger.exception("a delivery lane stopped: %s", exc)
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connections

    threads = [
        threading.Thread(target=lane, args=(index,), name=f"delivery-lane-{index}", daemon=True)
        for index in range(1, lanes)
    ]
    for thread in threads:
        thread.start()
    try:
        claimed[0] = _drain_lane(ticket_id=ticket_id, budget=budget)
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sum(claimed)


def _drain_lane(*, ticket_id: int | None, budget: float) -> int:
    started = time.monotonic()
    limit = settings.DELIVERY_BATCH_SIZE
    transports, renderer, recorder = Transports(), _Renderer(), SentRecorder()
    claimed = 0
    try:
        while True:
            result = message_batch_deliver(
                ticket_id=ticket_id, transports=transports, renderer=renderer, recorder=recorder
            )
            ticket_id = None
            claimed += result.claimed
            if result.claimed < limit or time.monotonic() - started >= budget:
                return claimed
    finally:
        try:
            recorder.close()
        finally:
            transports.close()


def _send_deadline() -> float:
    """A batch hands messages over for half its lease at most. The other
    half is for the message in progress (a slow server may take several
    timeouts): the lease must never run out while this worker may still
    send one of its rows, or another worker would claim and send it too."""
    return time.monotonic() + settings.DELIVERY_LEASE_SECONDS / 2


def _release(messages: list[Message]) -> None:
    """Give claimed messages back in one UPDATE, due now and their attempt
    unspent (those a cancel took meanwhile stay as they are)."""
    now = timezone.now()
    ours = Message.objects.filter(pk__any_of=[m.pk for m in messages], status=MessageStatus.SENDING)
    with transaction.atomic():
        released = set(ours.select_for_update().values_list("pk", flat=True))
        Message.objects.filter(pk__any_of=list(released)).update(
            status=MessageStatus.PENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=now,
            updated_at=now,
        )
    for message in messages:
        if message.pk in released:
            message.status, message.attempts = MessageStatus.PENDING, message.attempts - 1
            message.next_attempt_at = now
            log_event(message, "released: the batch ran out of time", status=message.status)


def message_batch_deliver(
    *,
    limit: int | None = None,
    ticket_id: int | None = None,
    transports: Transports | None = None,
    renderer: _Renderer | None = None,
    recorder: SentRecorder | None = None,
) -> BatchResult:
    """Claim one batch and deliver it."""
    result = BatchResult()
    send_until = _send_deadline()  # the lease starts with the claim
    ids = message_claim_batch(limit=limit, ticket_id=ticket_id)
    result.claimed = len(ids)
    if not ids:
        return result
    messages = _load(ids)
    settled = messages_keep_notice_order(messages=messages)
    logger.info("batch claimed", extra={"claimed": len(ids), "first_id": ids[0]})
    _relaxed_commits(True)
    own_transports, own_recorder = transports is None, recorder is None
    transports = transports or Transports()
    renderer = renderer or _Renderer()
    renderer.prepare(messages)
    recorder = recorder or SentRecorder()
    fence = _CancelFence(recorder)
    try:
        for index, message in enumerate(messages):
            if message.notification_id:
                result.notification_ids.add(message.notification_id)
            if message.pk in settled:
                continue  # superseded or held back to keep the incident's notices in order
            if time.monotonic() > send_until:
                transports.abandon()
                _release(messages[index:])
                result.notification_ids.update(
                    m.notification_id for m in messages[index:] if m.notification_id
                )
                break
            if message.attempts > settings.DELIVERY_MAX_ATTEMPTS:
                _record(
                    message,
                    MessageStatus.FAILED,
                    last_error=f"Gave up after {message.attempts - 1} attempts.",
                    next_attempt_at=None,
                )
            elif _precheck(message, now := timezone.now()):
                then = _next_to_send(messages, index + 1, now)
                _send_one(message, transports, renderer, fence, then)
    finally:
        fence.release()
        if own_recorder:
            recorder.close()
        if own_transports:
            transports.close()
        _relaxed_commits(False)
        tally_flush()
    for message in messages:
        result.outcomes[message.status] = result.outcomes.get(message.status, 0) + 1
    if result.notification_ids:
        hooks.notifications_touched.send(notification_ids=sorted(result.notification_ids))
    return result


def message_deliver_now(*, message: Message) -> Message:
    """Send one freshly written message at once, in the caller's process
    (test sends): same checks, transports and recording as a batch. Sends
    only if this call claims it: a drain that claimed it first sends it."""
    claimed = Message.objects.filter(pk=message.pk, status=MessageStatus.PENDING).update(
        status=MessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    message.refresh_from_db()
    if not claimed:
        return message
    transports = Transports()
    try:
        if _precheck(message, timezone.now()):
            recorder = SentRecorder(overlap=False)
            _send_one(message, transports, _Renderer(), _CancelFence(recorder))
    finally:
        transports.close()
        tally_flush()
    message.refresh_from_db()
    return message
