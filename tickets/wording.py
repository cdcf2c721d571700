"""What a ticket's history says to people: one plain sentence per event,
for the customer ("Your request is being worked on by Anna") or for staff
("Anna started work"), never field names or status codes.

The audit trail stores engineers by username; `names_for_events` turns the
usernames an event list mentions into display names with one query."""

from collections.abc import Iterable

from accounts.models import User
from tickets.models import Status, TicketEvent

_STATUS_WORDS = {
    Status.OPEN: "waiting for an engineer",
    Status.ASSIGNED: "with an engineer",
    Status.IN_PROGRESS: "being worked on",
    Status.ON_HOLD: "on hold",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
    Status.CANCELLED: "cancelled",
}
_PRIORITY_WORDS = {"low": "low", "medium": "medium", "high": "high", "critical": "critical"}


def display_name(user: User | None, fallback: str = "Our team") -> str:
    if user is None:
        return fallback
    return user.get_full_name() or user.username


def status_words(status: str) -> str:
    return _STATUS_WORDS.get(status, str(status).replace("_", " "))


def names_for_events(events: Iterable[TicketEvent]) -> dict[str, str]:
    """username → display name for every engineer an assignment names."""
    usernames = {
        change.new_value
        for event in events
        for change in event.changes.all()
        if change.field == "assignee" and change.new_value
    }
    if not usernames:
        return {}
    users = User.objects.filter(username__in=usernames).only("username", "first_name", "last_name")
    return {user.username: display_name(user) for user in users}


def _changes(event: TicketEvent) -> dict[str, tuple[str | None, str | None]]:
    return {c.field: (c.old_value, c.new_value) for c in event.changes.all()}


def _engineer(event: TicketEvent, changes: dict, names: dict[str, str]) -> str:
    username = changes.get("assignee", (None, None))[1]
    if username:
        return names.get(username, username)
    return display_name(event.actor, "an engineer")


def _by_customer(event: TicketEvent) -> bool:
    return event.actor is not None and event.actor.is_customer


def event_sentence(
    event: TicketEvent, *, for_customer: bool, names: dict[str, str] | None = None
) -> str:
    """The event told in one sentence, to the customer or to staff."""
    names = names or {}
    changes = _changes(event)
    actor = "You" if for_customer and _by_customer(event) else display_name(event.actor, "We")
    kind = event.kind
    if kind == TicketEvent.Kind.CREATED:
        if for_customer:
            return (
                "You raised this request."
                if _by_customer(event)
                else f"{actor} raised this request for you."
            )
        return f"{actor} raised this ticket."
    if kind == TicketEvent.Kind.ASSIGNED:
        engineer = _engineer(event, changes, names)
        if for_customer:
            return f"{engineer} will look after your request."
        return f"Assigned to {engineer}."
    if kind == TicketEvent.Kind.ACCEPTED:
        engineer = _engineer(event, changes, names)
        if for_customer:
            return f"Your request is being worked on by {engineer}."
        return f"{engineer} started work."
    if kind == TicketEvent.Kind.RESOLVED:
        if for_customer:
            return f"{actor} resolved your request."
        return f"{actor} resolved the ticket."
    if kind == TicketEvent.Kind.STATUS_CHANGED:
        return _status_sentence(event, changes, for_customer=for_customer, actor=actor)
    if kind == TicketEvent.Kind.UPDATED:
        return _update_sentence(changes, for_customer=for_customer, actor=actor)
    if kind == TicketEvent.Kind.ATTACHED:
        name = changes.get("attachment", (None, "a file"))[1] or "a file"
        return f"{actor} attached {name}."
    if kind == TicketEvent.Kind.ESCALATED:
        level = changes.get("priority", (None, None))[1]
        if for_customer:
            if level:
                return (
                    "Your request is taking longer than we aim for, "
                    f"so it now has {_PRIORITY_WORDS.get(level, level)} priority."
                )
            return "Your request is taking longer than we aim for; our managers are told."
        return event.note or "Overdue: escalated."
    if kind == TicketEvent.Kind.COMMENTED:
        return f"{actor} wrote a comment."
    return event.note or event.get_kind_display()


def event_detail(event: TicketEvent, *, sentence: str) -> str:
    """The words a person wrote with the event (a resolution, a note on a
    status change), shown under its sentence; empty when there are none."""
    if event.kind == TicketEvent.Kind.RESOLVED:
        resolution = _changes(event).get("resolution", (None, None))[1]
        if resolution:
            return resolution
    if "incident" in _changes(event):
        return ""  # the sentence says it all; the note is the audit trail's
    note = event.note or ""
    return "" if note == sentence or event.kind == TicketEvent.Kind.ESCALATED else note


def _status_sentence(event: TicketEvent, changes: dict, *, for_customer: bool, actor: str) -> str:
    old, new = changes.get("status", (None, None))
    if new is None:
        return event.note or "The status was updated."
    if old == Status.RESOLVED and new != Status.CLOSED:
        return "Your request was reopened." if for_customer else "The ticket was reopened."
    if new == Status.CANCELLED:
        if for_customer:
            return (
                "You cancelled this request."
                if _by_customer(event)
                else "Your request was cancelled."
            )
        return f"{actor} cancelled the ticket."
    if new == Status.IN_PROGRESS and old == Status.ON_HOLD:
        return "Work on your request has resumed." if for_customer else "Work resumed."
    if for_customer:
        return f"Your request is {status_words(new)}."
    return f"{actor} put the ticket {status_words(new)}."


def _incident_sentence(changes: dict, *, for_customer: bool) -> str:
    old, new = changes["incident"]
    if new:
        if for_customer:
            return (
                f"Your request is linked to the outage {new}; it will be resolved with it, "
                "and you do not need to do anything else."
            )
        return f"Linked to {new}."
    if for_customer:
        return "Your request is no longer linked to an outage; an engineer will look at it."
    return f"Unlinked from {old}." if old else "Unlinked from its incident."


def _update_sentence(changes: dict, *, for_customer: bool, actor: str) -> str:
    if "incident" in changes:
        return _incident_sentence(changes, for_customer=for_customer)
    parts = []
    if "title" in changes:
        parts.append(f"the title is now “{changes['title'][1]}”")
    if "description" in changes:
        parts.append("the description was changed")
    if "priority" in changes:
        new = changes["priority"][1] or ""
        parts.append(f"the priority is now {_PRIORITY_WORDS.get(new, new)}")
    if "service_type" in changes:
        parts.append("the service was changed")
    if not parts:
        return "The details were updated." if for_customer else f"{actor} updated the details."
    text = "; ".join(parts)
    return f"{actor} changed your request: {text}." if for_customer else f"{actor}: {text}."
