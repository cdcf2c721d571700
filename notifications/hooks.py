"""Hooks the apps above notifications register in their AppConfig.ready(),
so notifications can ask them without importing them."""

from collections.abc import Callable

# incidents: notification → the customers an incident's notice is for.
incident_audience: Callable | None = None


def incident_audience_register(resolver: Callable) -> None:
    global incident_audience
    incident_audience = resolver
