"""The ticket state machine: which status may follow which.

`assigned` is reached only by assignment (automatic, or an administrator's
`assign`), never by naming it; everything else goes through this table.
"""

from config.exceptions import Conflict
from tickets.models import Status

TRANSITIONS: dict[str, list[str]] = {
    Status.OPEN: [Status.IN_PROGRESS, Status.CANCELLED],
    Status.ASSIGNED: [Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED, Status.CANCELLED],
    Status.IN_PROGRESS: [Status.ON_HOLD, Status.RESOLVED, Status.CANCELLED],
    Status.ON_HOLD: [Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED],
    Status.RESOLVED: [Status.IN_PROGRESS, Status.CLOSED],
    Status.CLOSED: [],
    Status.CANCELLED: [],
}


class IllegalTransition(Conflict):
    default_code = "illegal_transition"

    def __init__(self, *, current: str, target: str, allowed: list[str]):
        names = ", ".join(str(s) for s in allowed) or "none"
        super().__init__(
            f"The ticket is {current} and cannot become {target}; allowed: {names}.",
            code="illegal_transition",
        )
        self.extra = {"allowed": [str(s) for s in allowed]}


def allowed_from(status: str) -> list[str]:
    return [str(s) for s in TRANSITIONS[Status(status)]]


def transition_check(*, current: str, target: str, allowed: list[str] | None = None) -> None:
    """Raise IllegalTransition unless `target` may follow `current`."""
    allowed = allowed_from(current) if allowed is None else allowed
    if target not in allowed:
        raise IllegalTransition(current=current, target=target, allowed=allowed)
