"""Delivery counters for /metrics that add up across every worker process on
every machine: each process keeps its outcomes and send times in memory and
adds them to one small table (DeliveryCounter) at the end of each batch, in
one statement. Reading them is a scan of a few dozen rows, however many
messages there are.

A worker killed mid-batch loses that batch's unflushed counts (the counters
then run a little low; the Message table stays the truth)."""

import logging
import threading
from collections import defaultdict

from django.db import DatabaseError, connection

from delivery.models import DeliveryCounter

logger = logging.getLogger("proactive.delivery")

OUTCOMES = ("sent", "failed", "deferred", "expired", "suppressed")
# Seconds the mail server or SMS gateway took to accept one message.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_lock = threading.Lock()
_pending: dict[str, float] = defaultdict(float)


def outcome_count(*, channel: str, outcome: str) -> None:
    if outcome in OUTCOMES:
        with _lock:
            _pending[f"{outcome}:{channel}"] += 1


def send_observe(*, channel: str, seconds: float) -> None:
    """One send's time, into the first bucket it fits (made cumulative when read)."""
    bucket = next((str(le) for le in LATENCY_BUCKETS if seconds <= le), "+Inf")
    with _lock:
        _pending[f"latency_bucket:{channel}:{bucket}"] += 1
        _pending[f"latency_sum:{channel}"] += seconds
        _pending[f"latency_count:{channel}"] += 1


def tally_flush() -> None:
    """Add this process's counts to the table, in one statement. On a
    database error they are kept for the next flush."""
    with _lock:
        if not _pending:
            return
        taken = dict(_pending)
        _pending.clear()
    quote = connection.ops.quote_name
    table, key, value = (quote(name) for name in (DeliveryCounter._meta.db_table, "key", "value"))
    rows = sorted(taken.items())
    values = ", ".join(["(%s, %s)"] * len(rows))
    # Only the quoted table name is interpolated; keys and values are parameters.
    sql = (
        f"INSERT INTO {table} ({key}, {value}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({key}) DO UPDATE SET {value} = {table}.{value} + excluded.{value}"
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, [item for row in rows for item in row])
    except DatabaseError as exc:
        logger.warning("delivery counters not saved yet: %s", exc)
        with _lock:
            for key, value in taken.items():
                _pending[key] += value
