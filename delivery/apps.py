from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"

    def ready(self) -> None:
        import config.lookups  # noqa: F401  (registers __any_of)
