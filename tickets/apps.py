from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from incidents.hooks import incident_resolved_register
        from tickets.services import tickets_resolve_with_incident

        incident_resolved_register(tickets_resolve_with_incident)
