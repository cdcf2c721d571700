"""Service-level targets per priority: how soon a ticket must be answered and
resolved. Defaults live here; each can be overridden from the environment,
e.g. TICKET_SLA_CRITICAL_RESOLUTION_MINUTES=120."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from config.env import env_int
from tickets.models import PRIORITY_ORDER, Priority

# priority: (response minutes, resolution minutes)
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    Priority.LOW: (8 * 60, 5 * 24 * 60),
    Priority.MEDIUM: (4 * 60, 3 * 24 * 60),
    Priority.HIGH: (60, 24 * 60),
    Priority.CRITICAL: (15, 4 * 60),
}


@dataclass(frozen=True)
class Target:
    response: timedelta
    resolution: timedelta


def sla_target(*, priority: str) -> Target:
    """The targets for a priority, read from the environment on each call so a
    changed variable applies without code changes."""
    response, resolution = DEFAULT_TARGETS[Priority(priority)]
    name = f"TICKET_SLA_{priority.upper()}"
    return Target(
        response=timedelta(minutes=env_int(f"{name}_RESPONSE_MINUTES", response, minimum=1)),
        resolution=timedelta(minutes=env_int(f"{name}_RESOLUTION_MINUTES", resolution, minimum=1)),
    )


def sla_due_at(*, priority: str, created_at: datetime) -> datetime:
    return created_at + sla_target(priority=priority).resolution


def priority_raised(priority: str) -> str | None:
    """One step up, or None when already the highest."""
    index = PRIORITY_ORDER.index(Priority(priority))
    return PRIORITY_ORDER[index + 1].value if index + 1 < len(PRIORITY_ORDER) else None
