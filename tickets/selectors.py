"""Ticket reads: who sees which tickets, search, engineers' load and
interaction statistics (computed by the database)."""

import re
from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ApprovalStatus, Role, User
from config.pagination import planner_estimate
from customers.models import Customer
from tickets.models import ACTIVE_STATUSES, Attachment, Comment, Interaction, Ticket, TicketEvent

SEARCH_SEPARATOR = "\x1f"
_NUMBER = re.compile(r"^\s*(?:T-?)?0*(\d{1,12})\s*$", re.IGNORECASE)
# Enough customers for any sensible name search; a broader term is refined by
# typing more, not served by an unbounded IN list.
_CUSTOMER_MATCH_LIMIT = 500


def _customer_id(user: User) -> int | None:
    return Customer.objects.filter(user=user).values_list("pk", flat=True).first()


def ticket_visible(*, user: User) -> QuerySet[Ticket]:
    """Every ticket the user may open: customers their own, staff all."""
    if user.is_staff_member:
        return Ticket.objects.all()
    if user.is_customer and user.is_active:
        customer_id = _customer_id(user)
        if customer_id is not None:
            return Ticket.objects.filter(customer_id=customer_id)
    return Ticket.objects.none()


def ticket_list_for_customer(*, customer: Customer) -> QuerySet[Ticket]:
    """A customer's tickets, newest first, with their assignees."""
    return Ticket.objects.filter(customer=customer).select_related("assignee").order_by("-id")


def ticket_active_list_for_engineer(*, engineer: User) -> QuerySet[Ticket]:
    """An engineer's unfinished tickets, the earliest due first."""
    return (
        Ticket.objects.filter(assignee=engineer, status__in=ACTIVE_STATUSES)
        .select_related("customer")
        .order_by("due_at")
    )


def ticket_list_partitions(*, user: User, scope: str = "") -> list[Q] | None:
    """Engineers' default list is theirs plus unassigned ones (disjoint
    parts, which lets the list count each part on its own index range)."""
    if user.is_engineer and scope != "all":
        return [Q(assignee=user), Q(assignee__isnull=True)]
    return None


def ticket_list(*, user: User, scope: str = "") -> QuerySet[Ticket]:
    """The default list: engineers see theirs plus unassigned ones unless
    they ask for `scope=all`; everyone else sees what they may open."""
    tickets = ticket_visible(user=user)
    parts = ticket_list_partitions(user=user, scope=scope)
    if parts:
        tickets = tickets.filter(parts[0] | parts[1])
    return tickets


class TitleAndDescription(Func):
    """title, a unit separator, description: one text that one trigram index
    covers (migration 0004), so a search is one index scan and one recheck.
    A search term never holds the separator, so it cannot match across it:
    matching this is matching the title or the description."""

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = TextField()

    def __init__(self):
        super().__init__(F("title"), Value(SEARCH_SEPARATOR), F("description"))


def ticket_search(tickets: QuerySet[Ticket], *, term: str) -> QuerySet[Ticket]:
    """Title, description, number, and the customer's name or account."""
    term = term.strip().replace(SEARCH_SEPARATOR, "")
    if not term:
        return tickets
    tickets = tickets.alias(title_and_description=TitleAndDescription())
    query = Q(title_and_description__icontains=term)
    number = _NUMBER.match(term)
    if number:
        query |= Q(pk=int(number.group(1)))
    # Names anywhere in the name; account numbers from their start, as the
    # directory indexes them.
    customer_ids = list(
        Customer.objects.filter(Q(name__icontains=term) | Q(account_number__istartswith=term))
        .order_by()
        .values_list("pk", flat=True)[:_CUSTOMER_MATCH_LIMIT]
    )
    if customer_ids:
        query |= Q(customer_id__in=customer_ids)
    return tickets.filter(query)


# Below this many matches, collecting them beats walking the table.
_SORT_MATCHES_BELOW = 2000
_COUNT_EXACTLY_UP_TO = 10_000


class TicketsById(Sequence):
    """Matching ticket ids, newest first, that a paginator can count and
    slice; a slice loads only its own tickets, by primary key, from `source`
    (with its annotations and related rows)."""

    def __init__(self, ids: list[int], *, source: QuerySet[Ticket]):
        self.ids = ids
        self.source = source.order_by()
        self.known_count = len(ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        chunk = self.ids[index]
        found = self.source.in_bulk(chunk)
        return [found[pk] for pk in chunk if pk in found]


def ticket_search_order(
    tickets: QuerySet[Ticket], *, newest_first: bool = True
) -> QuerySet[Ticket] | TicketsById:
    """Search results counted, and newest first (unless the caller orders
    them), in the cheaper of two ways for the number of matches.

    PostgreSQL cannot estimate how rare a searched word is. For a rare one it
    would walk the primary key backwards testing LIKE on tens of thousands of
    rows to fill a page; instead the ids of the few matches are collected
    through the trigram indexes and a page loads by primary key. For a common
    word the backward walk finds a page at once, so it is left to do that.

    The matches are counted first, up to _COUNT_EXACTLY_UP_TO: a LIMIT far
    above the planner's guess keeps it on the indexes, where a LIMIT near
    the guess would tempt it into a sequential scan that stops early only
    if the matches happen to sit early in the table. Above the limit the
    count is the planner's estimate (good for common words) and says so:
    counting 190,000 matches exactly would take 200 ms."""
    matches = tickets.order_by().values("pk")
    count = matches[: _COUNT_EXACTLY_UP_TO + 1].count()
    if count < _SORT_MATCHES_BELOW and newest_first:
        ids = sorted(matches.values_list("pk", flat=True), reverse=True)
        return TicketsById(ids, source=tickets)
    tickets.known_count, tickets.count_is_estimate = count, False
    if count > _COUNT_EXACTLY_UP_TO:
        estimate = planner_estimate(tickets) if connection.vendor == "postgresql" else 0
        tickets.known_count, tickets.count_is_estimate = max(estimate, count), True
    return tickets


def ticket_overdue_q(*, now: datetime | None = None) -> Q:
    return Q(status__in=ACTIVE_STATUSES, due_at__lt=now or timezone.now())


def ticket_comments(*, ticket: Ticket, user: User) -> QuerySet[Comment]:
    comments = Comment.objects.filter(ticket=ticket).select_related("author")
    return comments if user.is_staff_member else comments.filter(internal=False)


def ticket_attachments(*, ticket: Ticket) -> QuerySet[Attachment]:
    return Attachment.objects.filter(ticket=ticket).select_related("uploaded_by")


def ticket_events(*, ticket: Ticket, user: User) -> QuerySet[TicketEvent]:
    events = (
        TicketEvent.objects.filter(ticket=ticket)
        .select_related("actor")
        .prefetch_related("changes")
    )
    return events if user.is_staff_member else events.filter(internal=False)


# --- engineers ----------------------------------------------------------------------


def engineer_list() -> QuerySet[User]:
    """Approved engineers with `open_tickets`, their current load."""
    load = (
        Ticket.objects.filter(assignee=OuterRef("pk"), status__in=ACTIVE_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        User.objects.filter(role=Role.ENGINEER, approval_status=ApprovalStatus.APPROVED)
        .annotate(open_tickets=Coalesce(Subquery(load, output_field=IntegerField()), 0))
        .order_by("open_tickets", F("last_assigned_at").asc(nulls_first=True), "id")
    )


def engineer_available_list() -> QuerySet[User]:
    return engineer_list().filter(
        is_active=True, is_available=True, open_tickets__lt=F("max_open_tickets")
    )


# --- interactions ----------------------------------------------------------------------


def interaction_list() -> QuerySet[Interaction]:
    return Interaction.objects.select_related("created_by")


def interaction_visible(*, user) -> QuerySet[Interaction]:
    """Staff see every interaction; a customer only those with their own record."""
    if not user.is_authenticated:
        return Interaction.objects.none()
    if user.is_staff_member:
        return interaction_list()
    if user.is_customer and user.is_active:
        return interaction_list().filter(customer__user=user)
    return Interaction.objects.none()


def _summary(rows: QuerySet) -> QuerySet:
    return rows.annotate(
        count=Count("id"),
        total_duration_seconds=Coalesce(Sum("duration_seconds"), 0),
        average_duration_seconds=Avg("duration_seconds"),
    )


def _rounded(value: float | None) -> float:
    return round(float(value or 0), 1)


def interaction_stats(*, since: datetime, until: datetime | None = None) -> dict:
    """Counts and total/average duration by kind and by engineer, by the
    database's GROUP BY."""
    rows = Interaction.objects.filter(created_at__gte=since).order_by()
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    total = rows.aggregate(
        count=Count("id"),
        total_duration_seconds=Coalesce(Sum("duration_seconds"), 0),
        average_duration_seconds=Avg("duration_seconds"),
    )
    by_kind = {
        kind: {"count": 0, "total_duration_seconds": 0, "average_duration_seconds": 0.0}
        for kind in Interaction.Kind.values
    }
    for row in _summary(rows.values("kind")):
        by_kind[row["kind"]] = {
            "count": row["count"],
            "total_duration_seconds": row["total_duration_seconds"],
            "average_duration_seconds": _rounded(row["average_duration_seconds"]),
        }
    by_engineer = [
        {
            "engineer": row["created_by"],
            "username": row["created_by__username"],
            "count": row["count"],
            "total_duration_seconds": row["total_duration_seconds"],
            "average_duration_seconds": _rounded(row["average_duration_seconds"]),
        }
        for row in _summary(rows.values("created_by", "created_by__username")).order_by(
            "-count", "created_by"
        )
    ]
    return {
        "since": since,
        "until": until,
        "total": {
            "count": total["count"],
            "total_duration_seconds": total["total_duration_seconds"],
            "average_duration_seconds": _rounded(total["average_duration_seconds"]),
        },
        "by_kind": by_kind,
        "by_engineer": by_engineer,
    }
