from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"

    def ready(self) -> None:
        from anymail.signals import tracking

        import config.lookups  # noqa: F401  (registers __any_of)
        from delivery.webhooks import on_anymail_tracking

        tracking.connect(on_anymail_tracking, dispatch_uid="delivery.anymail_tracking")
