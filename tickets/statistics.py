"""Ticket statistics for administrators: how fast tickets are answered and
resolved (median and 90th percentile, by priority and by engineer), how the
backlog moved day by day, and which tickets broke their service levels.

A ticket's first response is the earlier of its acceptance and the first
public comment by staff. Times are in minutes. The backlog is computed from
daily counts the database groups (tickets raised, tickets finished), so it
costs three queries whatever the period."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import median

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date
from rest_framework.exceptions import ValidationError

from accounts.models import Role
from tickets.models import ACTIVE_STATUSES, PRIORITY_ORDER, Comment, Status, Ticket
from tickets.sla import sla_target

MAX_DAYS = 366


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by linear interpolation (as PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 1)


def _summary(values: list[float]) -> dict:
    return {
        "count": len(values),
        "median_minutes": round(median(values), 1) if values else None,
        "p90_minutes": _quantile(values, 0.9),
    }


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def _finished_at() -> Case:
    """When a ticket stopped being part of the backlog: its resolution, or
    for a ticket cancelled or closed without one, its last change."""
    return Case(
        When(
            Q(status__in=[Status.RESOLVED, Status.CLOSED]) & Q(resolved_at__isnull=False),
            then=F("resolved_at"),
        ),
        When(status__in=[Status.CLOSED, Status.CANCELLED], then=F("updated_at")),
        default=None,
        output_field=DateTimeField(),
    )


def _first_staff_reply() -> Subquery:
    replies = Comment.objects.filter(
        ticket=OuterRef("pk"),
        internal=False,
        author__role__in=[Role.ADMIN, Role.ENGINEER],
    ).order_by("id")
    return Subquery(replies.values("created_at")[:1])


def _rows(tickets: QuerySet[Ticket]):
    return tickets.annotate(first_reply_at=_first_staff_reply()).values_list(
        "priority",
        "assignee__username",
        "status",
        "created_at",
        "accepted_at",
        "first_reply_at",
        "resolved_at",
        "due_at",
        named=True,
    )


def _per_day(tickets, moment: str, *, since: datetime, until: datetime) -> dict[date, int]:
    """How many tickets' `moment` falls on each UTC day from since until until."""
    return dict(
        tickets.filter(**{f"{moment}__gte": since, f"{moment}__lt": until})
        .annotate(day=TruncDate(moment, tzinfo=UTC))
        .values("day")
        .annotate(n=Count("*"))
        .values_list("day", "n")
    )


def _backlog(*, since: datetime, days: int) -> list[dict]:
    tickets = Ticket.objects.order_by().annotate(finished_at=_finished_at())
    until = since + timedelta(days=days)
    open_before = (
        tickets.filter(created_at__lt=since)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=since))
        .count()
    )
    raised = _per_day(tickets, "created_at", since=since, until=until)
    finished = _per_day(tickets, "finished_at", since=since, until=until)
    points, backlog = [], open_before
    for offset in range(days):
        day: date = (since + timedelta(days=offset)).date()
        backlog += raised.get(day, 0) - finished.get(day, 0)
        points.append(
            {
                "date": day,
                "raised": raised.get(day, 0),
                "finished": finished.get(day, 0),
                "open": backlog,
            }
        )
    return points


def ticket_statistics(*, since: date, until: date, now: datetime | None = None) -> dict:
    """Statistics of the tickets raised from `since` to `until` (whole UTC days, both included)."""
    now = now or timezone.now()
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    days = (until - since).days + 1
    end = start + timedelta(days=days)
    response: dict[str, list[float]] = defaultdict(list)
    resolution: dict[str, list[float]] = defaultdict(list)
    engineer_response: dict[str, list[float]] = defaultdict(list)
    engineer_resolution: dict[str, list[float]] = defaultdict(list)
    breaches = {p.value: {"response": 0, "resolution": 0} for p in PRIORITY_ORDER}
    total = 0
    for row in _rows(Ticket.objects.filter(created_at__gte=start, created_at__lt=end).order_by()):
        total += 1
        target = sla_target(priority=row.priority)
        answered = [t for t in (row.accepted_at, row.first_reply_at) if t is not None]
        first = min(answered) if answered else None
        if first is not None:
            response[row.priority].append(_minutes(row.created_at, first))
            if row.assignee__username:
                engineer_response[row.assignee__username].append(_minutes(row.created_at, first))
        waiting = first is None and row.status in ACTIVE_STATUSES
        if (first is not None or waiting) and (first or now) - row.created_at > target.response:
            breaches[row.priority]["response"] += 1
        if row.resolved_at is not None:
            resolution[row.priority].append(_minutes(row.created_at, row.resolved_at))
            if row.assignee__username:
                engineer_resolution[row.assignee__username].append(
                    _minutes(row.created_at, row.resolved_at)
                )
        late = row.resolved_at is not None and row.resolved_at > row.due_at
        if late or (row.status in ACTIVE_STATUSES and now > row.due_at):
            breaches[row.priority]["resolution"] += 1
    everyone_response = [v for values in response.values() for v in values]
    everyone_resolution = [v for values in resolution.values() for v in values]
    engineers = sorted(set(engineer_response) | set(engineer_resolution))
    return {
        "since": since,
        "until": until,
        "tickets": total,
        "first_response": _summary(everyone_response),
        "resolution": _summary(everyone_resolution),
        "by_priority": [
            {
                "priority": p.value,
                "first_response": _summary(response[p.value]),
                "resolution": _summary(resolution[p.value]),
                "sla_breaches": breaches[p.value],
            }
            for p in PRIORITY_ORDER
        ],
        "by_engineer": [
            {
                "engineer": username,
                "first_response": _summary(engineer_response[username]),
                "resolution": _summary(engineer_resolution[username]),
            }
            for username in engineers
        ],
        "sla_breaches": {
            "response": sum(b["response"] for b in breaches.values()),
            "resolution": sum(b["resolution"] for b in breaches.values()),
        },
        "backlog": _backlog(since=start, days=days),
    }


def statistics_period(params) -> tuple[date, date]:
    """`since` and `until` (dates, both included; default the last 30 days), or a 400."""
    today = timezone.now().date()
    errors, values = {}, {}
    for name, default in (("since", today - timedelta(days=29)), ("until", today)):
        raw = params.get(name)
        try:
            values[name] = parse_date(raw) if raw else default
        except ValueError:
            values[name] = None
        if values[name] is None:
            errors[name] = ["Give a date as YYYY-MM-DD, e.g. 2026-11-01."]
    if errors:
        raise ValidationError(errors)
    since, until = values["since"], values["until"]
    if until >= date.max - timedelta(days=1):
        raise ValidationError({"until": ["Give a date before 9999-12-30."]})
    if since > until:
        raise ValidationError({"since": ["The period starts after it ends; swap the dates."]})
    if (until - since).days + 1 > MAX_DAYS:
        raise ValidationError({"since": [f"Ask for at most {MAX_DAYS} days at a time."]})
    return since, until
