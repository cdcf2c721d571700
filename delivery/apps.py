from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"

    def ready(self) -> None:
        from anymail.signals import tracking

        import config.lookups  # noqa: F401  (registers __any_of)
        from accounts import hooks
        from delivery.services import transactional_email_enqueue

        hooks.send_email.connect(transactional_email_enqueue)
        from delivery.webhooks import on_anymail_tracking

        tracking.connect(on_anymail_tracking, dispatch_uid="delivery.anymail_tracking")
