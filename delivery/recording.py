"""Recording that a message was sent, without making the next message wait
for the database.

A drain lane alternates between two servers: the mail server (or SMS
gateway) accepts a message, the database records it. Waiting for both
answers in turn left each lane idle half the time, and an UPDATE of the
message table per message (its indexes, the tally trigger) was most of
the database's work per message. On PostgreSQL the recorder has a
connection of its own and, after each send, writes a *sent mark*
(`SentMark`: one small INSERT, no trigger) without waiting (libpq's
send-and-Sync, so it commits by itself); the answer is read when the next
message is recorded. Whenever the rows must be current (before a cancel
may look at them, before the notification is checked for completion, at
the end of a batch; at least every run of the cancel fence, 100 messages
or 0.25 s) the recorder moves its marks onto the message rows in one
statement: the tally trigger then runs once for the run, not per message.

Nothing is lost to a worker crash that was not already at risk: the mark
is in the kernel's socket buffer before the next message goes out, and the
database server executes what it has received even if the client dies. So
a crash still leaves at most one message per lane accepted but unrecorded.
A marked row is never claimed again, and the dispatcher applies the marks
of a dead worker once their rows' lease has run out
(`sent_marks_apply_orphans`).

Inside a transaction (a test's, or any caller's atomic block) and on SQLite
the recorder runs on Django's own connection and waits, updating the row
itself, as a separate connection would not see the transaction's rows.

Every other outcome (a check's verdict, a transport's error, giving up) is
one prepared UPDATE by primary key, waited for: `record_outcome`,
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
from psycopg import pq

from delivery import suppression
from delivery.channels import TransportError
from delivery.checks import Verdict
from delivery.models import Message, MessageStatus, SentMark
from delivery.tally import outcome_count

logger = logging.getLogger("proactive.delivery")

_SENT_SQL = (
    "UPDATE {table} SET status = {}, updated_at = {}, sent_at = {}, provider_id = {}, "
    "last_error = '', next_attempt_at = NULL, segments = {} WHERE id = {} AND status = {}"
)


def _sent_sql(marks: list[str]) -> str:
    return _SENT_SQL.format(*marks, table=connection.ops.quote_name(Message._meta.db_table))


_STATEMENT = b"proactive_sent_mark"
_FLUSH = b"proactive_sent_marks_flush"
_SENDING = MessageStatus.SENDING.value.encode()
_ANSWERED = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)

# Only the quoted table names and constant conditions are interpolated into
# these; values are parameters.
# ruff: noqa: S608
_MARK_SQL = (
    "INSERT INTO {marks} (message_id, sent_at, provider_id, segments) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING"
)
# Marks (the CTE `mark`) onto their message rows: the one place that says
# what a sent row holds; `{condition}` says which rows may take their mark.
_MARKS_ONTO_ROWS = """
UPDATE {{messages}} AS m
SET status = 'sent', updated_at = mark.sent_at, sent_at = mark.sent_at,
    provider_id = mark.provider_id, last_error = '', next_attempt_at = NULL,
    segments = mark.segments
FROM mark WHERE m.id = mark.message_id AND {condition}
"""
# A lane's marks onto its rows: each row still ours ($2, 'sending') becomes
# 'sent'; the marks go either way. The status is a parameter, planned
# generically: with the constant, the plan may read the rows through the
# partial index of due rows, which statistics from a quiet moment call
# nearly empty, and scan every due row of the notification for each run
# (230 µs of database time per email instead of 23–30 with 20,000 due).
_FLUSH_SQL = (
    "WITH mark AS (DELETE FROM {marks} WHERE message_id = ANY($1::bigint[]) RETURNING *)"
    + _MARKS_ONTO_ROWS.format(condition="m.status = $2")
    + "RETURNING m.id"
)
# The marks no living lane holds (their row is no longer 'sending' under a
# running lease: the worker died, or its row vanished): the message was
# handed over, so its row says 'sent', whatever happened to it since.
_ORPHANS_SQL = """
WITH mark AS (
    DELETE FROM {marks} AS s
    WHERE NOT EXISTS (
        SELECT 1 FROM {messages} AS m
        WHERE m.id = s.message_id AND m.status = 'sending' AND m.next_attempt_at > %s
    )
    RETURNING *
)""" + _MARKS_ONTO_ROWS.format(condition="m.status <> 'sent'")


def _tables(sql: str) -> str:
    quote = connection.ops.quote_name
    return sql.format(marks=quote(SentMark._meta.db_table), messages=quote(Message._meta.db_table))


def sent_marks_apply_orphans(*, now: datetime.datetime | None = None) -> int:
    """Apply the sent marks of workers that died before moving them onto
    their rows (PostgreSQL; elsewhere no marks are written). Returns the
    rows recorded as sent."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_tables(_ORPHANS_SQL), [now or timezone.now()])
        applied = cursor.rowcount
    if applied:
        logger.info("sent marks of a stopped worker applied", extra={"messages": applied})
    return applied


def log_event(message: Message, event: str, **extra) -> None:
    """Every change of a message, with the ids that find a customer's whole
    story; outcomes are counted for /metrics too."""
    if "status" in extra:
        outcome_count(channel=message.channel, outcome=str(extra["status"]))
    if not logger.isEnabledFor(logging.INFO):
        return  # a worker sending at WARNING: not even the line's fields
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
        self._pending: _Sent | None = None  # the mark on its way
        self._marked: list[_Sent] = []  # marks written, not yet on their rows

    def record(self, message: Message, *, provider_id: str, segments: int | None) -> None:
        sent = _Sent(message, timezone.now(), provider_id, segments)
        # libpq takes one statement at a time: the previous answer first
        # (it came back while this message was with the mail server).
        self._read()
        if self.overlap and connection.vendor == "postgresql" and not connection.in_atomic_block:
            self._send(sent)
        else:
            self._apply(sent, updated=self._execute_waiting(sent))

    def settle(self) -> None:
        """Read the outstanding answer and move the marks onto their rows:
        afterwards the rows say what was sent."""
        self._read()
        marked, self._marked = self._marked, []
        if not marked:
            return
        ids = "{" + ",".join(str(sent.message.pk) for sent in marked) + "}"
        try:
            self._send_prepared(_FLUSH, [ids.encode(), _SENDING])
            result = self._answer()
            updated = {int(result.get_value(row, 0)) for row in range(result.ntuples)}
        except BaseException:
            # The marks stay in the table; the dispatcher applies them once
            # the rows' lease has run out.
            self._discard()
            logger.error(
                "could not move %s sent marks onto their messages",
                len(marked),
                extra={"message_id": marked[0].message.pk},
            )
            raise
        for sent in marked:
            self._apply(sent, updated=sent.message.pk in updated)

    def close(self) -> None:
        try:
            self.settle()
        finally:
            self._discard()

    def _read(self) -> None:
        """The outstanding mark's answer."""
        sent, self._pending = self._pending, None
        if sent is None:
            return
        try:
            self._answer()
        except BaseException:
            # The mark reached the server or died with the connection;
            # either way nothing is pending here any more.
            self._discard()
            logger.error(
                "could not read the sent mark of message %s",
                sent.message.pk,
                extra={"message_id": sent.message.pk},
            )
            raise
        self._marked.append(sent)

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
        # (see relaxed_commits below), and the rows always found by primary
        # key whatever the statistics say about due rows.
        own.execute("SET synchronous_commit TO off")
        own.execute("SET plan_cache_mode TO force_generic_plan")
        self._check(own.pgconn.prepare(_STATEMENT, _tables(_MARK_SQL).encode()))
        self._check(own.pgconn.prepare(_FLUSH, _tables(_FLUSH_SQL).encode()))
        self._readable, self._writable = select.poll(), select.poll()
        self._readable.register(own.pgconn.socket, select.POLLIN)
        self._writable.register(own.pgconn.socket, select.POLLOUT)
        self._connection = own
        return own

    def _send(self, sent: _Sent) -> None:
        self._connection or self._open()
        params = [
            str(sent.message.pk).encode(),
            sent.at.isoformat().encode(),
            sent.provider_id.encode(),
            None if sent.segments is None else str(sent.segments).encode(),
        ]
        self._send_prepared(_STATEMENT, params)
        self._pending = sent

    def _send_prepared(self, name: bytes, params: list) -> None:
        pgconn = self._connection.pgconn
        pgconn.send_query_prepared(name, params)  # Bind, Execute and Sync
        while pgconn.flush():  # 1 while data remains: wait until the socket takes it
            self._writable.poll()

    def _answer(self):
        """The outstanding statement's result. Any wait is in poll(), which
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
        return result

    @staticmethod
    def _check(result) -> None:
        if result is None or result.status not in _ANSWERED:
            error = result.error_message.decode(errors="replace") if result else "no answer"
            raise DatabaseError(f"Recording a sent message failed: {error.strip()}")

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._readable = self._writable = self._pending = None
        self._marked = []

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
