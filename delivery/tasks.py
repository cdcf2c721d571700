"""Thin tasks: they only signal work; the rows in the database are the queue."""

from celery import shared_task

from delivery import services


@shared_task(name="delivery.tasks.dispatch_due_messages", ignore_result=True)
def dispatch_due_messages() -> int:
    return services.message_dispatch_due()


@shared_task(name="delivery.tasks.drain_messages", ignore_result=True)
def drain_messages(ticket_id: int | None = None) -> int:
    return services.message_drain(ticket_id=ticket_id)
