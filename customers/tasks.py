"""Thin tasks that call the directory services."""

from celery import shared_task

from customers import services


@shared_task(name="customers.tasks.reorder_search", ignore_result=True)
def reorder_search() -> bool:
    return services.customer_search_reorder()
