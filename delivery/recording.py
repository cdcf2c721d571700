"""Recording that a message was sent: one UPDATE by primary key per message,
without making the next message wait for the database's answer.

A drain lane alternates between two servers: the mail server (or SMS
gateway) accepts a message, the database records it. Waiting for both
answers in turn left each lane idle half the time. On PostgreSQL the
recorder has a connection of its own and writes each UPDATE to it without
waiting (libpq's send-and-Sync, so the statement commits by itself); the
answer is read when the next message is recorded, by which time it has
long arrived, or when the lane settles (before a cancel may look at the
rows, before the notification is checked for completion, at the end of a
batch).

Nothing is lost to a worker crash that was not already at risk: the UPDATE
is in the kernel's socket buffer before the next message goes out, and the
database server executes what it has received even if the client dies. So
a crash still leaves at most one message per lane accepted but unrecorded.

Inside a transaction (a test's, or any caller's atomic block) and on SQLite
the recorder runs on Django's own connection and waits, as a separate
connection would not see the transaction's rows.

Every other outcome (a check's verdict, a transport's error, giving up) is
one prepared UPDATE by primary key too, waited for: `record_outcome`,
`record_verdict`, `record_failure`.
"""

import datetime
import logging
import random
import select
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from delivery import suppression
from delivery.channels import TransportError
from delivery.checks import Verdict
from delivery.models import Message, MessageStatus
from delivery.tally import outcome_count

logger = logging.getLogger("proactive.delivery")

_SENT_SQL = (
    "UPDATE {table} SET status = {}, updated_at = {}, sent_at = {}, provider_id = {}, "
    "last_error = '', next_attempt_at = NULL, segments = {} WHERE id = {} AND status = {}"
)


def _sent_sql(marks: list[str]) -> str:
    return _SENT_SQL.format(*marks, table=connection.ops.quote_name(Message._meta.db_table))


_STATEMENT = b"proactive_message_sent"


def log_event(message: Message, event: str, **extra) -> None:
    """Every change of a message, with the ids that find a customer's whole
    story; outcomes are counted for /metrics too."""
    if "status" in extra:
        outcome_count(channel=message.channel, outcome=str(extra["status"]))
    logger.info(
        "message %s",
        event,
        extra={
            "message_id": message.pk,
            "notification_id": message.notification_id,
            "customer_id": message.customer_id,
            "channel": message.channel,
            **extra,
        },
    )


def relaxed_commits(on: bool) -> None:
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


def execute_prepared(sql: str, params: list) -> int:
    """Run a per-message UPDATE on Django's connection; returns the row
    count. On PostgreSQL the statement is prepared once per connection
    (Django's cursors bind on the client and never prepare), so each
    message costs the server an execution only, not a parse and a plan."""
    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@dataclass
class _Sent:
    message: Message
    at: datetime.datetime
    provider_id: str
    segments: int | None


class SentRecorder:
    """Records sent messages for one drain lane (one thread). Call
    `record` after each send, `settle` whenever the rows must be current,
    and `close` when the lane ends."""

    def __init__(self, *, overlap: bool = True):
        self.overlap = overlap
        self._connection = None  # psycopg.Connection, PostgreSQL only
        self._readable = self._writable = None  # select.poll on its socket
        self._pending: _Sent | None = None  # the UPDATE on its way

    def record(self, message: Message, *, provider_id: str, segments: int | None) -> None:
        sent = _Sent(message, timezone.now(), provider_id, segments)
        # libpq takes one statement at a time: the previous answer first
        # (it came back while this message was with the mail server).
        self.settle()
        if self.overlap and connection.vendor == "postgresql" and not connection.in_atomic_block:
            self._send(sent)
        else:
            self._apply(sent, updated=self._execute_waiting(sent))

    def settle(self) -> None:
        """Read the outstanding answer: afterwards the rows say what was sent."""
        sent, self._pending = self._pending, None
        if sent is None:
            return
        try:
            updated = self._answer()
        except BaseException:
            # The UPDATE reached the server or died with the connection;
            # either way nothing is pending here any more.
            self._discard()
            logger.error(
                "could not read the sent record of message %s",
                sent.message.pk,
                extra={"message_id": sent.message.pk},
            )
            raise
        self._apply(sent, updated=updated)

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self._discard()

    # --- the waiting way (Django's connection) ---------------------------------

    def _execute_waiting(self, sent: _Sent) -> int:
        adapt = connection.ops.adapt_datetimefield_value
        return execute_prepared(
            _sent_sql(["%s"] * 7),
            [
                MessageStatus.SENT.value,
                adapt(sent.at),
                adapt(sent.at),
                sent.provider_id,
                sent.segments,
                sent.message.pk,
                MessageStatus.SENDING.value,
            ],
        )

    # --- the overlapping way (a connection of its own) -------------------------

    def _open(self):
        import psycopg

        own = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        # As for the batch on Django's connection: no wait for the WAL flush
        # (see relaxed_commits below), and the UPDATE always by
        # primary key whatever the statistics say about due rows.
        own.execute("SET synchronous_commit TO off")
        own.execute("SET plan_cache_mode TO force_generic_plan")
        sql = _sent_sql([f"${number}" for number in range(1, 8)])
        self._check(own.pgconn.prepare(_STATEMENT, sql.encode()))
        self._readable, self._writable = select.poll(), select.poll()
        self._readable.register(own.pgconn.socket, select.POLLIN)
        self._writable.register(own.pgconn.socket, select.POLLOUT)
        self._connection = own
        return own

    def _send(self, sent: _Sent) -> None:
        pgconn = (self._connection or self._open()).pgconn
        at = sent.at.isoformat().encode()
        params = [
            MessageStatus.SENT.value.encode(),
            at,
            at,
            sent.provider_id.encode(),
            None if sent.segments is None else str(sent.segments).encode(),
            str(sent.message.pk).encode(),
            MessageStatus.SENDING.value.encode(),
        ]
        pgconn.send_query_prepared(_STATEMENT, params)  # Bind, Execute and Sync
        while pgconn.flush():  # 1 while data remains: wait until the socket takes it
            self._writable.poll()
        self._pending = sent

    def _answer(self) -> int:
        """The outstanding UPDATE's row count. Any wait is in poll(), which
        lets the lane's other threads run, rather than inside libpq."""
        pgconn = self._connection.pgconn
        pgconn.consume_input()
        while pgconn.is_busy():
            self._readable.poll()
            pgconn.consume_input()
        result = pgconn.get_result()
        self._check(result)
        while pgconn.get_result() is not None:  # the end of this statement's answer
            pass
        return result.command_tuples or 0

    @staticmethod
    def _check(result) -> None:
        from psycopg import pq

        if result is None or result.status != pq.ExecStatus.COMMAND_OK:
            error = result.error_message.decode(errors="replace") if result else "no answer"
            raise DatabaseError(f"Recording a sent message failed: {error.strip()}")

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._readable = self._writable = self._pending = None

    def _apply(self, sent: _Sent, *, updated: int) -> None:
        if not updated:
            return  # no longer ours: a cancel took it, or its lease ran out
        message = sent.message
        message.status, message.sent_at, message.provider_id = (
            MessageStatus.SENT,
            sent.at,
            sent.provider_id,
        )
        message.segments, message.last_error, message.next_attempt_at = sent.segments, "", None
        log_event(message, "sent", status=MessageStatus.SENT.value)


# --- every other outcome (waited for, on Django's connection) -----------------


def retry_delay(*, attempts: int) -> datetime.timedelta:
    """Exponential backoff with jitter: half the delay fixed, half random."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    delay = min(settings.DELIVERY_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    return datetime.timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))


def record_sql(message_id: int, **fields) -> tuple[str, list]:
    """UPDATE … SET fields WHERE id = message_id AND status = 'sending'."""
    query = Message.objects.filter(pk=message_id, status=MessageStatus.SENDING).query
    query = query.chain(UpdateQuery)
    query.add_update_values(fields)
    sql, params = query.get_compiler(connection.alias).as_sql()
    return sql, list(params)


def record_outcome(message: Message, status: str, *, event: str | None = None, **fields) -> bool:
    """Move a claimed row to its outcome, only if it is still ours (a cancel
    may have taken it meanwhile)."""
    now = timezone.now()
    # Prepared like the sent UPDATE, so it too always goes by primary key.
    updated = execute_prepared(*record_sql(message.pk, status=status, updated_at=now, **fields))
    if updated:
        message.status = status
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):
                setattr(message, name, value)
        log_event(message, event or status, status=status, error=fields.get("last_error", ""))
    return bool(updated)


def record_verdict(message: Message, verdict: Verdict) -> None:
    """A check stopped the message: it was not tried, so its attempt is
    given back."""
    record_outcome(
        message,
        verdict.status,
        event=verdict.event,
        last_error=verdict.reason,
        attempts=F("attempts") - 1,
        next_attempt_at=verdict.retry_at,
    )


def record_failure(message: Message, error: TransportError) -> None:
    """The transport refused: wait as the gateway asked, fail for good,
    give up after the last attempt, expire at the end, or retry later."""
    if error.retry_after is not None:
        # The gateway asked us to slow down: not this message's fault.
        record_outcome(
            message,
            MessageStatus.DEFERRED,
            event="deferred: the gateway asked to retry later",
            last_error=error.message,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now() + datetime.timedelta(seconds=error.retry_after),
        )
        return
    if error.permanent:
        record_outcome(
            message, MessageStatus.FAILED, last_error=error.message, next_attempt_at=None
        )
        suppression.message_failed_for_good(message=message, error=error)
    elif message.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
        record_outcome(
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
            record_outcome(
                message,
                MessageStatus.EXPIRED,
                last_error=f"{error.message} (the notification ends before the next retry)",
                next_attempt_at=None,
            )
        else:
            record_outcome(
                message,
                MessageStatus.DEFERRED,
                event="deferred after a transient error",
                last_error=error.message,
                next_attempt_at=retry_at,
            )
