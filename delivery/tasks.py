"""Thin tasks: they only signal work; the rows in the database are the queue."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from delivery import retention, services
from delivery.outbox import disk_full

logger = logging.getLogger("proactive.delivery")

# When this process loaded its tasks, before it could claim anything.
_STARTED_AT = timezone.now()


@shared_task(name="delivery.tasks.dispatch_due_messages", ignore_result=True)
def dispatch_due_messages() -> int:
    return services.message_dispatch_due()


@shared_task(name="delivery.tasks.drain_messages", ignore_result=True)
def drain_messages(signal_id: int | None = None, ticket_id: int | None = None) -> int:
    """`ticket_id` is the name `signal_id` had before: tasks queued by an
    older dispatcher still carry it."""
    try:
        return services.message_drain(signal_id=ticket_id if signal_id is None else signal_id)
    except DatabaseError as exc:
        if disk_full(exc):
            # Nothing more can be recorded: what this drain claimed and did
            # not finish goes out again once there is room and its lease ends.
            logger.error(
                "Disk full: delivery stopped, the database could not record its work (%s); "
                "free space (data folder %s), the claimed messages go out again after %s s",
                exc,
                settings.DATA_DIR,
                settings.DELIVERY_LEASE_SECONDS,
            )
        raise


@shared_task(name="delivery.tasks.purge_old_messages", ignore_result=True)
def purge_old_messages() -> int:
    return retention.messages_purge().messages


@worker_ready.connect
def _take_back_orphaned_claims(**_) -> None:
    """A sole worker (the embedded default's) frees what a dead one claimed.
    Only rows claimed before this process started: its own claims stand."""
    if settings.DELIVERY_SOLE_WORKER:
        services.message_claims_expire(claimed_before=_STARTED_AT)
