from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from accounts import hooks
        from incidents.hooks import incident_resolved_register
        from tickets.services import tickets_assign_waiting, tickets_resolve_with_incident

        hooks.engineer_available.connect(tickets_assign_waiting)
        incident_resolved_register(tickets_resolve_with_incident)
