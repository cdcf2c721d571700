from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from incidents.services import incident_notice_audience
        from notifications.hooks import incident_audience_register

        incident_audience_register(incident_notice_audience)
