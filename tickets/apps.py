from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from accounts import hooks
        from tickets.services import tickets_assign_waiting

        hooks.engineer_available.connect(tickets_assign_waiting)
