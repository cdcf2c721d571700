from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customer directory"

    def ready(self) -> None:
        from accounts import hooks
        from customers.services import customer_link_user

        hooks.customer_account_ready.connect(customer_link_user)
