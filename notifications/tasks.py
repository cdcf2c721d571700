"""Thin tasks that call the notification services."""

from celery import shared_task

from notifications import services
from notifications.models import Notification


@shared_task(name="notifications.tasks.start_due_notifications", ignore_result=True)
def start_due_notifications() -> int:
    return services.notification_start_due()


@shared_task(name="notifications.tasks.materialise_notification", ignore_result=True)
def materialise_notification(notification_id: int) -> int:
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return 0
    return services.notification_materialise(notification=notification)


@shared_task(name="notifications.tasks.send_daily_report", ignore_result=True)
def send_daily_report() -> int:
    return len(services.daily_report_send())


@shared_task(name="notifications.tasks.cancel_rest", ignore_result=True)
def cancel_rest(notification_id: int) -> int:
    return services.notification_cancel_rest(notification_id=notification_id)


@shared_task(name="notifications.tasks.supersede_rest", ignore_result=True)
def supersede_rest(notification_id: int) -> int:
    return services.notification_supersede_rest(notification_id=notification_id)
