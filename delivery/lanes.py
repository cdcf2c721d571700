"""A drain task's body: batch after batch over the same connections while
full batches keep coming, for a bounded time, on one or more lanes.

On PostgreSQL the task works DELIVERY_LANES lanes at once, each with its
own database and SMTP/HTTP connections: while one waits for the mail
server or the database, another renders and sends. Each lane claims its
own batches (SKIP LOCKED keeps them apart), so a crash of the worker
leaves at most one message per lane accepted but unrecorded.

The lanes are threads of the task's process, or, with
DELIVERY_LANE_PROCESSES, processes forked for the task (the first lane
stays in the task's own process): threads share one interpreter lock,
processes do not. A lane process dies with the worker (a SIGKILL of the
worker takes its lanes with it, as it takes threads), ignores the
SIGTERM/SIGINT of a warm shutdown (the worker waits for its task, and the
task for its lanes, at most one drain budget), and hands its count back
through a pipe."""

import ctypes
import logging
import os
import signal
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
    if settings.DELIVERY_LANE_PROCESSES:
        return _drain_in_processes(lanes=lanes, signal_id=signal_id, budget=budget)
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


def _drain_in_processes(*, lanes: int, signal_id: int | None, budget: float) -> int:
    # Nothing of this process's database connections may cross the fork:
    # two processes talking on one socket would corrupt both sessions.
    connections.close_all()
    parent = os.getpid()
    children: list[tuple[int, int]] = []
    for _ in range(1, lanes):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the lane process
            os.close(read)
            code = 1
            try:
                _lane_process_setup(parent)
                os.write(write, str(_drain_lane(signal_id=None, budget=budget)).encode())
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported, then this process ends
                logger.exception("a delivery lane stopped: %s", exc)
            finally:
                try:
                    connections.close_all()
                finally:
                    os._exit(code)  # no Celery or interpreter clean-up of the parent's state
        os.close(write)
        children.append((pid, read))
    claimed, failed = 0, 0
    try:
        claimed = _drain_lane(signal_id=signal_id, budget=budget)
    finally:
        for pid, read in children:
            with os.fdopen(read, "rb") as answer:
                said = answer.read()
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0 and said:
                claimed += int(said)
            else:
                failed += 1
    if failed:
        raise RuntimeError(f"{failed} of {lanes} delivery lanes stopped (see the log above)")
    return claimed


_PR_SET_PDEATHSIG = 1


def _lane_process_setup(parent: int) -> None:
    """A lane process dies with the worker that forked it, and leaves the
    worker's shutdown signals to the worker."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # Linux
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the line above
        os._exit(1)
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    for name in ("SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


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
