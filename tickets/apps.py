from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from accounts import hooks as account_hooks
        from incidents import hooks as incident_hooks
        from tickets.services import tickets_assign_waiting, tickets_resolve_with_incident

        account_hooks.engineer_available.connect(tickets_assign_waiting)
        incident_hooks.incident_resolved.connect(tickets_resolve_with_incident)
