"""Periodic ticket work; the rules live in tickets.services."""

from celery import shared_task

from tickets import services


@shared_task
def escalate_overdue_tickets() -> int:
    return services.tickets_escalate_overdue()


@shared_task
def assign_waiting_tickets() -> int:
    return services.tickets_assign_waiting()
