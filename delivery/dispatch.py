"""The dispatcher: the database is the queue, Celery only says "there is
work". Beat runs `message_dispatch_due` every few seconds; anything that
writes due rows nudges it to run at once.

For each batch of due rows not already covered it writes a `DrainSignal`
and enqueues a `drain_messages` task carrying its id; the task's claim
deletes the signal (delivery.claims). Counting the signals keeps the number
of waiting tasks at one per batch; a signal older than its time to live is
presumed lost with its broker message and forgotten."""

import datetime
import logging
import math

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from delivery.claims import messages_due
from delivery.models import DrainSignal
from delivery.recording import sent_marks_apply_orphans

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
    """Dispatch as soon as the caller's transaction has committed its rows."""
    transaction.on_commit(_nudge_dispatcher)


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
    # Rows a dead worker sent and marked are not due: record them first.
    sent_marks_apply_orphans(now=now)
    batch = settings.DELIVERY_BATCH_SIZE
    signal_ttl = datetime.timedelta(seconds=max(5, settings.DELIVERY_LEASE_SECONDS // 2))
    with transaction.atomic():
        _dispatcher_lock()
        DrainSignal.objects.filter(created_at__lt=now - signal_ttl).delete()
        waiting = DrainSignal.objects.count()
        due = messages_due(now).values("pk")[: MAX_WAITING_TASKS * batch].count()
        wanted = min(math.ceil(due / batch), MAX_WAITING_TASKS) - waiting
        if wanted <= 0:
            return 0
        signals = DrainSignal.objects.bulk_create(
            [DrainSignal(created_at=now) for _ in range(wanted)]
        )
        signal_ids = [signal.pk for signal in signals]

        def enqueue() -> None:
            for signal_id in signal_ids:
                drain_messages.delay(signal_id=signal_id)

        transaction.on_commit(enqueue)
    logger.info("dispatched drain tasks", extra={"tasks": wanted, "due": due})
    return wanted
