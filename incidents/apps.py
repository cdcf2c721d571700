from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from incidents.services import incident_notice_audience
        from notifications import hooks

        hooks.incident_audience.answer_with(incident_notice_audience)
