from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"

    def ready(self) -> None:
        import config.lookups  # noqa: F401  (registers __any_of)
        from accounts import hooks
        from delivery.services import transactional_email_enqueue

        hooks.send_email.connect(transactional_email_enqueue)
