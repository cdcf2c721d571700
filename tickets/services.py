"""Ticket rules: creation with automatic assignment, the state machine,
edits, comments, attachments, escalation and interactions. Every change is
recorded as a TicketEvent with its field changes."""

import dataclasses
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.models import ApprovalStatus, Role, User
from config.exceptions import AttachmentQuotaExceeded, Conflict
from customers.models import Customer, ServiceType
from customers.selectors import customer_of_user
from incidents.models import Incident
from incidents.selectors import (
    incident_active_outage_for_customer,
    incidents_active_for_customer,
)
from incidents.services import incident_record_deflection
from notifications.templating import (
    INCIDENT_STATUS_LABELS,
    customer_values,
    format_moment,
    incident_values,
    text_render,
)
from tickets import emails
from tickets.models import (
    ACTIVE_STATUSES,
    CUSTOMER_EDITABLE_STATUSES,
    FINISHED_STATUSES,
    Attachment,
    Comment,
    Interaction,
    OutageDeflection,
    Status,
    Ticket,
    TicketEscalation,
    TicketEvent,
    TicketFieldChange,
)
from tickets.sla import priority_raised, sla_due_at, sla_target
from tickets.transitions import IllegalTransition, allowed_from, transition_check
from tickets.uploads import upload_check

logger = logging.getLogger(__name__)

STAFF_EDITABLE_FIELDS = ("title", "description", "priority", "service_type")
CUSTOMER_EDITABLE_FIELDS = ("title", "description")


# --- the audit trail ---------------------------------------------------------


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, User):
        return value.username
    if isinstance(value, ServiceType):
        return value.code
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclasses.dataclass(frozen=True)
class Event:
    """One entry of a ticket's trail: what happened, who did it (None for
    the system) and the fields it changed, as (old, new)."""

    kind: str
    actor: User | None = None
    changes: dict[str, tuple[Any, Any]] = dataclasses.field(default_factory=dict)
    note: str = ""
    internal: bool = False


def _record_all(entries: Iterable[tuple[int, Event]]) -> list[TicketEvent]:
    """The one recorder of the trail: every event of every ticket is written
    here, with its field changes. Many events (of one ticket or of many)
    cost two INSERTs in all."""
    entries = list(entries)
    rows = TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket_id=ticket_id,
            kind=event.kind,
            actor=event.actor,
            note=event.note,
            internal=event.internal,
        )
        for ticket_id, event in entries
    )
    changes = [
        TicketFieldChange(event=row, field=name, old_value=_display(old), new_value=_display(new))
        for row, (_, event) in zip(rows, entries, strict=True)
        for name, (old, new) in event.changes.items()
    ]
    if changes:
        TicketFieldChange.objects.bulk_create(changes)
    return rows


def _record(
    ticket: Ticket,
    *,
    kind: str,
    actor: User | None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    note: str = "",
    internal: bool = False,
) -> TicketEvent:
    event = Event(kind=kind, actor=actor, changes=changes or {}, note=note, internal=internal)
    return _record_all([(ticket.pk, event)])[0]


def _set(ticket: Ticket, changes: dict[str, tuple[Any, Any]], field: str, value: Any) -> None:
    """Set a field, remembering the old and new value when it really changes."""
    old = getattr(ticket, field)
    if old != value:
        changes[field] = (old, value)
        setattr(ticket, field, value)


# --- assignment ----------------------------------------------------------------


# A 64-bit key of our own among the database's advisory locks ("tickassg").
_ASSIGNMENT_LOCK_KEY = 0x7469636B61737367


def _lock_assignment() -> None:
    """From here to the end of the transaction no one else chooses an
    engineer, so two tickets created at the same instant cannot both take the
    last free place. PostgreSQL: a transaction-scoped advisory lock (one lock,
    no row written, released at commit or rollback). SQLite has one writer
    and our transactions begin IMMEDIATE, so the transaction already is one."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ASSIGNMENT_LOCK_KEY])


# The assignment rule, in one statement: count the loads (unfinished tickets)
# in one index-only pass over the partial index of unfinished tickets, choose
# the least loaded available engineer with room (ties to the one idle
# longest, never assigned first), and stamp their assignment time. Only
# quoted identifiers are interpolated; every value is a parameter.
_TAKE_LEAST_LOADED_SQL = """
WITH loads AS (
    SELECT assignee_id, COUNT(*) AS n FROM {tickets}
    WHERE status IN (%s, %s, %s, %s) AND assignee_id IS NOT NULL
    GROUP BY assignee_id
), chosen AS (
    SELECT u.id FROM {users} u LEFT JOIN loads ON loads.assignee_id = u.id
    WHERE u.role = %s AND u.approval_status = %s AND u.is_active AND u.is_available
        AND COALESCE(loads.n, 0) < u.max_open_tickets
    ORDER BY COALESCE(loads.n, 0), u.last_assigned_at NULLS FIRST, u.id
    LIMIT 1
)
UPDATE {users} SET last_assigned_at = %s WHERE id = (SELECT id FROM chosen)
RETURNING id, username, email, max_open_tickets, first_name, last_name
"""


def _take_least_loaded(*, now: datetime) -> User | None:
    """The one rule of who gets the next ticket: the engineer chosen for it,
    recorded as assigned now; None when nobody has room. Both new tickets
    (`ticket_create`) and waiting ones (`tickets_assign_waiting`) are given
    by it. Run after `_lock_assignment`, so the loads include every
    assignment committed before (and those made earlier in this transaction)."""
    qn = connection.ops.quote_name
    sql = _TAKE_LEAST_LOADED_SQL.format(
        tickets=qn(Ticket._meta.db_table), users=qn(User._meta.db_table)
    )
    params = [*(s.value for s in ACTIVE_STATUSES), Role.ENGINEER.value]
    params += [ApprovalStatus.APPROVED.value, connection.ops.adapt_datetimefield_value(now)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return User(
        id=row[0],
        username=row[1],
        email=row[2],
        max_open_tickets=row[3],
        first_name=row[4],
        last_name=row[5],
        last_assigned_at=now,
    )


def _give(ticket: Ticket, *, engineer: User, actor: User | None, now: datetime) -> None:
    changes: dict[str, tuple[Any, Any]] = {}
    _set(ticket, changes, "assignee", engineer)
    _set(ticket, changes, "status", Status.ASSIGNED.value)
    ticket.accepted_at = None
    ticket.save(update_fields=["assignee", "status", "accepted_at", "updated_at"])
    User.objects.filter(pk=engineer.pk).update(last_assigned_at=now)
    engineer.last_assigned_at = now
    _record(ticket, kind=TicketEvent.Kind.ASSIGNED, actor=actor, changes=changes)


_ASSIGNED_FROM_OPEN = {"status": (Status.OPEN, Status.ASSIGNED)}
# Waiting tickets are read this many at a time, earliest due first.
_WAITING_BATCH = 50


def tickets_assign_waiting() -> int:
    """Give waiting (open, unassigned) tickets to engineers with room, the
    earliest due first, each by the assignment rule. Returns how many were
    assigned."""
    assigned = 0
    # A ticket linked to an incident waits on the incident, not on an engineer.
    waiting = (
        Ticket.objects.filter(status=Status.OPEN, assignee__isnull=True, incident__isnull=True)
        .select_related("customer")
        .select_for_update(of=("self",))
        .order_by("due_at", "id")
    )
    with transaction.atomic():
        _lock_assignment()
        now = timezone.now()
        # Each ticket given leaves `waiting`, so the next batch is the next ones.
        while batch := list(waiting[:_WAITING_BATCH]):
            for ticket in batch:
                chosen = _take_least_loaded(now=now)
                if chosen is None:
                    return _assigned_logged(assigned)
                Ticket.objects.filter(pk=ticket.pk).update(
                    status=Status.ASSIGNED, assignee=chosen, updated_at=now
                )
                ticket.status, ticket.assignee = Status.ASSIGNED, chosen
                changes = {"assignee": (None, chosen), **_ASSIGNED_FROM_OPEN}
                _record(ticket, kind=TicketEvent.Kind.ASSIGNED, actor=None, changes=changes)
                emails.email_ticket_assigned(ticket=ticket)
                assigned += 1
    return _assigned_logged(assigned)


def _assigned_logged(assigned: int) -> int:
    if assigned:
        logger.info("waiting tickets assigned", extra={"count": assigned})
    return assigned


def _after_load_freed() -> None:
    transaction.on_commit(tickets_assign_waiting)


# --- incidents ---------------------------------------------------------------------


def _incident_label(incident: Incident | None) -> str | None:
    return f"{incident.number} {incident.title}" if incident else None


def outage_reply_text(*, incident: Incident, customer: Customer) -> str:
    """The automatic answer to a complaint raised during a known outage:
    the latest status and ETA in the customer's own zone."""
    latest = getattr(incident, "latest_update", None)
    status = INCIDENT_STATUS_LABELS.get(incident.status, incident.status)
    lines = [
        f"We already know about this outage ({incident.number}: {incident.title}) "
        f"and are working on it. Current status: {status}.",
    ]
    if incident.eta:
        lines.append(
            f"We expect service back by {format_moment(incident.eta, customer.timezone or 'UTC')}."
        )
    if latest is not None:
        when = format_moment(latest.created_at, customer.timezone or "UTC")
        text = text_render(
            source=latest.body,
            customer=customer_values(customer),
            incident=incident_values(incident),
        )
        lines.append(f"Latest update ({when}): {text}")
    lines.append(
        "Your request is linked to the outage and will be resolved with it; "
        "you do not need to do anything else."
    )
    return "\n\n".join(lines)


def _linked_on_creation(ticket: Ticket, *, outage: Incident) -> None:
    _record(
        ticket,
        kind=TicketEvent.Kind.UPDATED,
        actor=None,
        changes={"incident": (None, _incident_label(outage))},
        note="Linked to an active outage affecting the customer; waiting on it.",
    )
    Comment.objects.create(
        ticket=ticket,
        author=None,
        body=outage_reply_text(incident=outage, customer=ticket.customer),
        internal=False,
    )


def ticket_link_incident(*, ticket: Ticket, actor: User, incident: Incident | None) -> Ticket:
    """Staff link a ticket to an active incident (it then waits on it) or
    unlink it (it goes into normal assignment). Audited."""
    if not actor.is_staff_member:
        raise PermissionDenied("Only engineers and administrators may link tickets to incidents.")
    if incident is not None and incident.status in Incident.FINISHED_STATUSES:
        raise Conflict(
            f"The incident is {incident.status}; link tickets only to an active one.",
            code="incident_finished",
        )
    if ticket.status in FINISHED_STATUSES:
        raise Conflict(
            f"A {ticket.status} ticket cannot be linked or unlinked.", code="ticket_locked"
        )
    old = ticket.incident
    if (old.pk if old else None) == (incident.pk if incident else None):
        return ticket
    with transaction.atomic():
        ticket.incident = incident
        ticket.save(update_fields=["incident", "updated_at"])
        _record(
            ticket,
            kind=TicketEvent.Kind.UPDATED,
            actor=actor,
            changes={"incident": (_incident_label(old), _incident_label(incident))},
            note="Linked to an incident." if incident else "Unlinked from its incident.",
        )
        if incident is None and ticket.status == Status.OPEN and ticket.assignee_id is None:
            _after_load_freed()
    return ticket


INCIDENT_RESOLUTION_TEXT = (
    "The outage this request was about ({number}: {title}) is resolved and service is restored. "
    "If you still have a problem, reply here and we will look at it."
)


def _insert_per_ticket(model, *, tickets, values: dict[str, Any]) -> None:
    """One INSERT … SELECT: a `model` row for each ticket of `tickets` (a
    queryset of their pks), its other columns set to `values`."""
    qn = connection.ops.quote_name
    subquery, params = tickets.query.sql_with_params()
    fields = [model._meta.get_field(name) for name in values]
    columns = ", ".join(qn(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    ticket_column = qn(model._meta.get_field("ticket").column)
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({ticket_column}, {columns}) "  # noqa: S608
        f"SELECT t.id, {marks} FROM {qn(Ticket._meta.db_table)} t WHERE t.id IN ({subquery})"
    )
    adapted = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*adapted, *params])


def tickets_resolve_with_incident(*, incident: Incident, actor: User | None = None) -> int:
    """The incident resolved: its linked open tickets are resolved with a
    public comment and an event each, set-based (a few statements whatever
    the number of tickets; nothing per ticket in Python). No ticket email:
    the customer hears of it once, from the incident's resolution notice."""
    active = [s.value for s in ACTIVE_STATUSES]
    now = timezone.now()
    with transaction.atomic():
        # Every ticket of the incident is locked, finished ones too, so that
        # none joins or leaves the active set between the statements below
        # (and nobody else can add an event to one of them meanwhile).
        rows = list(
            Ticket.objects.select_for_update()
            .filter(incident=incident)
            .values_list("status", "assignee_id")
        )
        count = sum(1 for status, _ in rows if status in active)
        if not count:
            return 0
        linked = Ticket.objects.filter(incident=incident, status__in=active).order_by().values("pk")
        text = INCIDENT_RESOLUTION_TEXT.format(number=incident.number, title=incident.title)
        actor_id = actor.pk if actor else None
        _insert_per_ticket(
            Comment,
            tickets=linked,
            values={"author_id": actor_id, "body": text, "internal": False, "created_at": now},
        )
        last_event = TicketEvent.objects.aggregate(last=Max("pk"))["last"] or 0
        _insert_per_ticket(
            TicketEvent,
            tickets=linked,
            values={
                "kind": TicketEvent.Kind.RESOLVED.value,
                "actor_id": actor_id,
                "note": f"Resolved with incident {incident.number}.",
                "internal": False,
                "created_at": now,
            },
        )
        # Each new event's change: the ticket's status before the UPDATE below.
        qn = connection.ops.quote_name
        subquery, params = linked.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {qn(TicketFieldChange._meta.db_table)} "  # noqa: S608
                "(event_id, field, old_value, new_value) "
                f"SELECT e.id, 'status', t.status, %s FROM {qn(TicketEvent._meta.db_table)} e "
                f"JOIN {qn(Ticket._meta.db_table)} t ON t.id = e.ticket_id "
                f"WHERE e.id > %s AND t.id IN ({subquery})",
                [Status.RESOLVED.value, last_event, *params],
            )
        Ticket.objects.filter(incident=incident, status__in=active).update(
            status=Status.RESOLVED, resolved_at=now, resolution=text, updated_at=now
        )
    if any(assignee for status, assignee in rows if status in active):
        _after_load_freed()
    logger.info(
        "tickets resolved with their incident",
        extra={"incident_id": incident.pk, "tickets": count},
    )
    return count


# --- creation and edits -----------------------------------------------------------


NO_CUSTOMER_RECORD = "Your account is not linked to a customer record; ask the provider to link it."


def ticket_customer(*, actor: User, customer: Customer | None) -> Customer:
    """Whom a new ticket is for. A customer opens tickets only for
    themselves (naming nobody means themselves); staff name the customer."""
    if actor.is_customer:
        if customer is not None:
            if customer.user_id != actor.pk:
                raise PermissionDenied("Customers may open tickets only for themselves.")
            return customer
        own = customer_of_user(user=actor)
        if own is None:
            raise PermissionDenied(NO_CUSTOMER_RECORD)
        return own
    if customer is None:
        raise ValidationError({"customer": ["Name the customer the ticket is for."]})
    return customer


def ticket_create(
    *,
    actor: User,
    customer: Customer | None = None,
    title: str,
    description: str = "",
    service_type: ServiceType | None = None,
    priority: str = "medium",
    uploads: Sequence[UploadedFile] = (),
    follows: Ticket | None = None,
) -> Ticket:
    """Open a ticket, with its attachments, and give it at once to the
    least-loaded available engineer; with nobody available it waits, `open`.
    Every upload is checked before anything is stored. The ticket comes back
    with its customer, service type and assignee (the engineer's names and
    address) in place, ready to show."""
    customer = ticket_customer(actor=actor, customer=customer)
    checked = _uploads_check(uploads)
    now = timezone.now()
    # A complaint from a customer an active outage affects waits on the
    # outage instead of going to an engineer.
    outage = incident_active_outage_for_customer(customer=customer)
    with _stored_files_removed_on_failure() as stored, transaction.atomic():
        # Choosing under the lock and inserting the ticket already assigned
        # keeps the lock short and saves an UPDATE.
        chosen = None
        if outage is None:
            _lock_assignment()
            chosen = _take_least_loaded(now=now)
        ticket = Ticket.objects.create(
            title=title,
            description=description,
            customer=customer,
            service_type=service_type,
            priority=priority,
            status=Status.ASSIGNED if chosen else Status.OPEN,
            assignee=chosen,
            due_at=sla_due_at(priority=priority, created_at=now),
            follows=follows,
            incident=outage,
            created_by=actor,
            created_at=now,
        )
        events = [Event(kind=TicketEvent.Kind.CREATED, actor=actor)]
        if chosen is not None:
            changes = {"assignee": (None, chosen), **_ASSIGNED_FROM_OPEN}
            events.append(Event(kind=TicketEvent.Kind.ASSIGNED, changes=changes))
        _record_all((ticket.pk, event) for event in events)
        if outage is not None:
            _linked_on_creation(ticket, outage=outage)
        emails.email_ticket_created(ticket=ticket)
        for upload, check in checked:
            stored.append(_attachment_store(ticket, uploaded_by=actor, upload=upload, check=check))
    logger.info("ticket created", extra={"ticket_id": ticket.pk, "assignee_id": ticket.assignee_id})
    return ticket


MAX_ATTACHMENTS_AT_CREATION = 10


def _uploads_check(uploads: Sequence[UploadedFile]) -> list[tuple[UploadedFile, Any]]:
    if len(uploads) > MAX_ATTACHMENTS_AT_CREATION:
        raise ValidationError(
            {
                "attachments": [
                    f"Attach at most {MAX_ATTACHMENTS_AT_CREATION} files to a new ticket; "
                    "add more to the ticket afterwards."
                ]
            }
        )
    checked = []
    for upload in uploads:
        try:
            checked.append((upload, upload_check(upload=upload)))
        except ValidationError as exc:
            problems = exc.detail.get("file", []) if isinstance(exc.detail, dict) else exc.detail
            raise ValidationError(
                {"attachments": [f"{upload.name}: {problem}" for problem in problems]}
            ) from exc
    return checked


@contextmanager
def _stored_files_removed_on_failure() -> Iterator[list[Attachment]]:
    """Attachments saved inside the block lose their files if it fails (a
    rolled-back transaction removes only their rows)."""
    stored: list[Attachment] = []
    try:
        yield stored
    except BaseException:
        for attachment in stored:
            attachment.file.delete(save=False)
        raise


def _ensure_engineer_may_work_on(ticket: Ticket, actor: User) -> None:
    if actor.is_engineer and ticket.assignee_id not in (None, actor.pk):
        raise PermissionDenied("This ticket is assigned to another engineer.")


def ticket_update(*, ticket: Ticket, actor: User, data: dict[str, Any]) -> Ticket:
    """Edit fields. Customers: title and description of their own ticket,
    before work starts. Staff: title, description, priority and service type
    until the ticket is closed or cancelled."""
    if actor.is_customer:
        forbidden = sorted(set(data) - set(CUSTOMER_EDITABLE_FIELDS))
        if forbidden:
            raise PermissionDenied(
                f"Customers may change only the title and description, not {', '.join(forbidden)}."
            )
        if ticket.status not in CUSTOMER_EDITABLE_STATUSES:
            raise Conflict(
                f"A {ticket.status} ticket can no longer be edited; add a comment instead.",
                code="ticket_locked",
            )
    else:
        _ensure_engineer_may_work_on(ticket, actor)
        if ticket.status in (Status.CLOSED, Status.CANCELLED):
            raise Conflict(
                f"A {ticket.status} ticket can no longer be edited.", code="ticket_locked"
            )
    if "incident" in data:
        data = dict(data)
        ticket = ticket_link_incident(ticket=ticket, actor=actor, incident=data.pop("incident"))
    with transaction.atomic():
        changes: dict[str, tuple[Any, Any]] = {}
        for field in STAFF_EDITABLE_FIELDS:
            if field in data:
                _set(ticket, changes, field, data[field])
        if "priority" in changes:
            _set(
                ticket,
                changes,
                "due_at",
                sla_due_at(priority=ticket.priority, created_at=ticket.created_at),
            )
        if changes:
            ticket.save()
            _record(ticket, kind=TicketEvent.Kind.UPDATED, actor=actor, changes=changes)
    return ticket


def ticket_assign(*, ticket: Ticket, actor: User, assignee: User) -> Ticket:
    """An administrator gives the ticket to an engineer (also over their limit)."""
    if not (assignee.role == Role.ENGINEER and assignee.is_approved and assignee.is_active):
        raise ValidationError(
            {"assignee": ["Choose an active, approved engineer to assign the ticket to."]}
        )
    if ticket.status in FINISHED_STATUSES:
        raise Conflict(
            f"A {ticket.status} ticket cannot be assigned; reopen it first.",
            code="illegal_transition",
        )
    if ticket.assignee_id == assignee.pk:
        return ticket
    had_assignee = ticket.assignee_id is not None
    with transaction.atomic():
        _give(ticket, engineer=assignee, actor=actor, now=timezone.now())
        emails.email_ticket_assigned(ticket=ticket)
        if had_assignee:
            _after_load_freed()
    return ticket


def _change_status(
    ticket: Ticket, *, actor: User, target: str, note: str = "", resolution: str | None = None
) -> Ticket:
    old_status = ticket.status
    now = timezone.now()
    changes: dict[str, tuple[Any, Any]] = {}
    with transaction.atomic():
        if target == Status.IN_PROGRESS:
            if ticket.assignee_id is None:
                if not actor.is_engineer:
                    raise ValidationError(
                        {"status": ["Assign an engineer before work on the ticket starts."]}
                    )
                _set(ticket, changes, "assignee", actor)
            if ticket.accepted_at is None:
                _set(ticket, changes, "accepted_at", now)
            if old_status == Status.RESOLVED:
                _set(ticket, changes, "resolved_at", None)
        if target == Status.RESOLVED:
            _set(ticket, changes, "resolved_at", now)
            if resolution is not None:
                _set(ticket, changes, "resolution", resolution)
        _set(ticket, changes, "status", target)
        ticket.save()
        kind = {
            Status.RESOLVED: TicketEvent.Kind.RESOLVED,
        }.get(target, TicketEvent.Kind.STATUS_CHANGED)
        if target == Status.IN_PROGRESS and old_status in (Status.OPEN, Status.ASSIGNED):
            kind = TicketEvent.Kind.ACCEPTED
        _record(ticket, kind=kind, actor=actor, changes=changes, note=note)
        if target == Status.RESOLVED:
            emails.email_ticket_resolved(ticket=ticket)
        else:
            emails.email_status_changed(ticket=ticket, old=old_status, note=note)
        if target in FINISHED_STATUSES and old_status in ACTIVE_STATUSES and ticket.assignee_id:
            _after_load_freed()
    return ticket


def ticket_status_change(*, ticket: Ticket, actor: User, status: str, note: str = "") -> Ticket:
    """Move a ticket through the state machine. Customers may only cancel
    their own ticket before work starts."""
    if actor.is_customer:
        if status != Status.CANCELLED:
            raise PermissionDenied("Customers may only cancel a ticket.")
        allowed = [Status.CANCELLED.value] if ticket.status in CUSTOMER_EDITABLE_STATUSES else []
        transition_check(current=ticket.status, target=status, allowed=allowed)
    else:
        _ensure_engineer_may_work_on(ticket, actor)
        transition_check(current=ticket.status, target=status)
    resolution = note if status == Status.RESOLVED else None
    return _change_status(ticket, actor=actor, target=status, note=note, resolution=resolution)


def ticket_accept(*, ticket: Ticket, actor: User) -> Ticket:
    """The assignee (or any engineer, when nobody is) starts work."""
    _ensure_engineer_may_work_on(ticket, actor)
    if ticket.status == Status.RESOLVED:
        # Reopening is a status change with a reason, not an acceptance.
        raise IllegalTransition(
            current=ticket.status, target="accepted", allowed=allowed_from(ticket.status)
        )
    transition_check(current=ticket.status, target=Status.IN_PROGRESS)
    return _change_status(ticket, actor=actor, target=Status.IN_PROGRESS)


def ticket_resolve(*, ticket: Ticket, actor: User, resolution: str) -> Ticket:
    _ensure_engineer_may_work_on(ticket, actor)
    transition_check(current=ticket.status, target=Status.RESOLVED)
    return _change_status(ticket, actor=actor, target=Status.RESOLVED, resolution=resolution)


def allowed_transitions_for(*, ticket: Ticket, user: User) -> list[str]:
    if user.is_customer:
        return [Status.CANCELLED.value] if ticket.status in CUSTOMER_EDITABLE_STATUSES else []
    return allowed_from(ticket.status)


# --- comments and attachments ------------------------------------------------------


def _ensure_open_for_additions(ticket: Ticket, what: str) -> None:
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise Conflict(
            f"A {ticket.status} ticket takes no more {what}; raise a new ticket instead.",
            code="ticket_locked",
        )


def comment_create(*, ticket: Ticket, author: User, body: str, internal: bool = False) -> Comment:
    """A comment, public or (staff only) an internal note. A customer's reply
    to a finished ticket is never lost in a closed file: resolved less than
    TICKET_REOPEN_DAYS ago, the ticket reopens; otherwise the reply opens a
    new ticket that follows it (the comment then belongs to the new one)."""
    if internal and not author.is_staff_member:
        raise PermissionDenied("Only engineers and administrators may write internal notes.")
    _ensure_open_for_additions(ticket, "comments")
    with transaction.atomic():
        if author.is_customer and ticket.status == Status.RESOLVED:
            if _reopenable(ticket):
                _reopen(ticket, actor=author)
            else:
                ticket = _follow_up_create(ticket, actor=author)
        comment = Comment.objects.create(ticket=ticket, author=author, body=body, internal=internal)
        _record(
            ticket,
            kind=TicketEvent.Kind.COMMENTED,
            actor=author,
            note="Internal note added." if internal else "Comment added.",
            internal=internal,
        )
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
        if not internal:
            emails.email_public_comment(ticket=ticket, author_id=author.pk, body=body)
    return comment


def _attachment_quota_check(ticket: Ticket, *, size: int) -> None:
    """Inside the transaction that stores the attachment, with the ticket and
    its customer locked, so two uploads at once cannot both squeeze under a
    limit. A ticket holds at most TICKET_ATTACHMENTS_MAX_COUNT attachments;
    all the tickets of one customer at most CUSTOMER_ATTACHMENTS_MAX_BYTES."""
    locked = Ticket.objects.select_for_update().only("status").get(pk=ticket.pk)
    _ensure_open_for_additions(locked, "attachments")
    list(Customer.objects.select_for_update().filter(pk=ticket.customer_id).values("pk"))
    max_count = settings.TICKET_ATTACHMENTS_MAX_COUNT
    if Attachment.objects.filter(ticket=ticket).count() >= max_count:
        raise ValidationError(
            {
                "file": [
                    f"This ticket already holds {max_count} attachments, the most it may; "
                    "send further files with a new ticket."
                ]
            }
        )
    max_bytes = settings.CUSTOMER_ATTACHMENTS_MAX_BYTES
    used = (
        Attachment.objects.filter(ticket__customer_id=ticket.customer_id).aggregate(
            total=Sum("size")
        )["total"]
        or 0
    )
    if used + size > max_bytes:
        raise AttachmentQuotaExceeded(
            f"This customer's attachments already take {used} of {max_bytes} bytes; "
            f"a file of {size} bytes does not fit. Send a smaller file."
        )


def _reopenable(ticket: Ticket) -> bool:
    if ticket.status != Status.RESOLVED or ticket.resolved_at is None:
        return False
    return timezone.now() - ticket.resolved_at <= timedelta(days=emails.reopen_days())


def _reopen(ticket: Ticket, *, actor: User) -> None:
    """Back to its engineer, in progress; without one it waits for assignment."""
    if ticket.assignee_id is not None:
        _change_status(
            ticket, actor=actor, target=Status.IN_PROGRESS, note="Reopened by the customer's reply."
        )
        return
    changes: dict[str, tuple[Any, Any]] = {}
    _set(ticket, changes, "status", Status.OPEN.value)
    _set(ticket, changes, "resolved_at", None)
    ticket.save()
    _record(
        ticket,
        kind=TicketEvent.Kind.STATUS_CHANGED,
        actor=actor,
        changes=changes,
        note="Reopened by the customer's reply.",
    )
    _after_load_freed()


def _follow_up_create(ticket: Ticket, *, actor: User) -> Ticket:
    finished = "closed" if ticket.status == Status.CLOSED else "resolved"
    title = f"Follow-up to {ticket.number}: {ticket.title}"[:200]
    return ticket_create(
        actor=actor,
        customer=ticket.customer,
        title=title,
        description=f"The customer replied to {ticket.number}, which was {finished}.",
        service_type=ticket.service_type,
        priority=ticket.priority,
        follows=ticket,
    )


def attachment_create(*, ticket: Ticket, uploaded_by: User, upload) -> Attachment:
    """Store an upload under a random name, after checking its size and its
    type by content. A rejected upload leaves nothing behind."""
    _ensure_open_for_additions(ticket, "attachments")
    checked = upload_check(upload=upload)
    with transaction.atomic():
        return _attachment_store(ticket, uploaded_by=uploaded_by, upload=upload, check=checked)


def _attachment_store(ticket: Ticket, *, uploaded_by: User, upload, check) -> Attachment:
    """Save a checked upload and its row; the file is removed again if the row fails."""
    attachment = Attachment(
        ticket=ticket,
        uploaded_by=uploaded_by,
        original_name=check.original_name,
        content_type=check.content_type,
        size=check.size,
    )
    attachment.file.save(check.stored_name, upload, save=False)
    try:
        with transaction.atomic():
            _attachment_quota_check(ticket, size=check.size)
            attachment.save()
            _record(
                ticket,
                kind=TicketEvent.Kind.ATTACHED,
                actor=uploaded_by,
                changes={"attachment": (None, check.original_name)},
            )
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


# --- escalation ------------------------------------------------------------------


def tickets_escalate_overdue(*, now: datetime | None = None) -> int:
    """Escalate every active ticket past its due time; each level once."""
    now = now or timezone.now()
    overdue = (
        Ticket.objects.filter(status__in=ACTIVE_STATUSES, due_at__lt=now)
        .exclude(priority="critical", escalations__level="critical")
        .order_by("due_at")
        .values_list("pk", flat=True)
    )
    escalated = sum(1 for pk in list(overdue) if ticket_escalate(ticket_id=pk, now=now))
    if escalated:
        logger.info("overdue tickets escalated", extra={"count": escalated})
    return escalated


def ticket_escalate(*, ticket_id: int, now: datetime | None = None) -> bool:
    """Raise an overdue ticket's priority one step and tell the assignee and
    the administrators. A level already reached is never escalated again.
    The raised priority's response target becomes the new due time."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("customer", "assignee")
            .filter(pk=ticket_id)
            .first()
        )
        if ticket is None or ticket.status not in ACTIVE_STATUSES or ticket.due_at >= now:
            return False
        raised = priority_raised(ticket.priority)
        level = raised or ticket.priority
        _, created = TicketEscalation.objects.get_or_create(ticket=ticket, level=level)
        if not created:
            return False
        changes: dict[str, tuple[Any, Any]] = {}
        if raised:
            _set(ticket, changes, "priority", raised)
            _set(ticket, changes, "due_at", now + sla_target(priority=raised).response)
        ticket.escalation_level += 1
        ticket.save()
        _record(
            ticket,
            kind=TicketEvent.Kind.ESCALATED,
            actor=None,
            changes=changes,
            note=f"Overdue: escalated to {level}.",
        )
        admins = User.objects.filter(
            role=Role.ADMIN, approval_status=ApprovalStatus.APPROVED, is_active=True
        ).values_list("email", flat=True)
        emails.email_ticket_escalated(ticket=ticket, admin_addresses=list(admins))
    return True


# --- interactions ----------------------------------------------------------------


def interaction_create(
    *,
    actor: User,
    kind: str,
    customer: Customer | None = None,
    ticket: Ticket | None = None,
    duration_seconds: int = 0,
    notes: str = "",
) -> Interaction:
    if ticket is not None and customer is None:
        customer = ticket.customer
    if customer is None:
        raise ValidationError({"customer": ["Name the customer or the ticket of the interaction."]})
    if ticket is not None and ticket.customer_id != customer.pk:
        raise ValidationError({"ticket": ["The ticket belongs to another customer."]})
    return Interaction.objects.create(
        customer=customer,
        ticket=ticket,
        kind=kind,
        duration_seconds=duration_seconds,
        notes=notes,
        created_by=actor,
    )


# --- outages the customer already knows about ------------------------------------


def outage_deflections_record(*, customer: Customer) -> int:
    """The customer read that we already know about the outages affecting
    them and chose not to raise a ticket. Each (incident, customer) counts
    once on the incident's deflection figure however often they say so;
    returns how many incidents counted them now. Only the active outages
    the customer is in the audience of are counted, whatever a page sent."""
    counted = 0
    for incident in incidents_active_for_customer(customer=customer):
        with transaction.atomic():
            _, created = OutageDeflection.objects.get_or_create(
                incident=incident, customer=customer
            )
            if created:
                incident_record_deflection(incident=incident)
                counted += 1
    return counted
