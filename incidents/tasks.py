"""Thin tasks that call the incident services."""

from celery import shared_task

from incidents import services


@shared_task(name="incidents.tasks.advance_maintenance", ignore_result=True)
def advance_maintenance() -> int:
    return services.incident_maintenance_advance()
