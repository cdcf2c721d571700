"""Hooks the apps above incidents (tickets) register in their
AppConfig.ready(), so incidents can tell them things without importing
their services."""

from collections.abc import Callable

# Called inside the resolving transaction with (incident=, actor=).
incident_resolved: list[Callable] = []


def incident_resolved_register(callback: Callable) -> None:
    if callback not in incident_resolved:
        incident_resolved.append(callback)
