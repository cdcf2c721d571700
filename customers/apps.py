from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customer directory"

    def ready(self) -> None:
        from accounts import hooks
        from customers.services import customer_on_email_confirmed

        hooks.email_confirmed.connect(customer_on_email_confirmed)
