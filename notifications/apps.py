from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from delivery import hooks
        from notifications.services import notification_finish_if_done

        hooks.notifications_touched.connect(notification_finish_if_done)
