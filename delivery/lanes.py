"""A drain task's body: batch after batch over the same connections while
full batches keep coming, for a bounded time, on one or more lanes.

On PostgreSQL the task works DELIVERY_LANES lanes at once, each a thread
with its own database and SMTP/HTTP connections: while one waits for the
mail server or the database, another renders and sends. Each lane claims
its own batches (SKIP LOCKED keeps them apart), so a crash of the worker
leaves at most one message per lane accepted but unrecorded."""

import logging
import threading
import time

from django.conf import settings
from django.db import connection, connections

from delivery.recording import SentRecorder
from delivery.rendering import Renderer
from delivery.sending import Transports, message_batch_deliver

logger = logging.getLogger("proactive.delivery")


def drain_budget_seconds() -> float:
    """How long one drain task keeps taking batches: well inside the time
    after which the dispatcher presumes a waiting task lost."""
    return max(2.0, settings.DELIVERY_LEASE_SECONDS / 4)


def message_drain(*, signal_id: int | None = None, budget_seconds: float | None = None) -> int:
    """Deliver batches until one comes back short or the budget is spent;
    the first batch of the first lane takes the task's drain signal with it.
    Returns how many messages were claimed."""
    budget = drain_budget_seconds() if budget_seconds is None else budget_seconds
    lanes = settings.DELIVERY_LANES if connection.vendor == "postgresql" else 1
    if lanes <= 1:
        return _drain_lane(signal_id=signal_id, budget=budget)
    claimed = [0] * lanes
    errors: list[BaseException] = []

    def lane(index: int) -> None:
        try:
            claimed[index] = _drain_lane(signal_id=None, budget=budget)
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
        claimed[0] = _drain_lane(signal_id=signal_id, budget=budget)
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sum(claimed)


def _drain_lane(*, signal_id: int | None, budget: float) -> int:
    started = time.monotonic()
    limit = settings.DELIVERY_BATCH_SIZE
    transports, renderer, recorder = Transports(), Renderer(), SentRecorder()
    claimed = 0
    try:
        while True:
            result = message_batch_deliver(
                signal_id=signal_id, transports=transports, renderer=renderer, recorder=recorder
            )
            signal_id = None
            claimed += result.claimed
            if result.claimed < limit or time.monotonic() - started >= budget:
                return claimed
    finally:
        try:
            recorder.close()
        finally:
            transports.close()
