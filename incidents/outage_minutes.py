"""Outage minutes per customer, for SLA credits and regulators.

For a period, each customer's outage minutes are the minutes during which
at least one outage whose frozen audience included them was going on, from
its start (`started_at`, else its declaration) to its resolution (or now);
overlapping outages count each minute once. Maintenance is counted apart
the same way, from its start to its completion (or its scheduled end).

The few incidents of the period become intervals in seconds from the
period's start (a few hundred at most). The database gives each customer's
set of incidents, one block of customers at a time (keyset by id, an
index-only pass over the audience rows in index order), and the length of
the union is computed once per distinct set: the customers of one site
share one set, so a million customers come down to a few thousand unions.
Blocks stream the first rows at once and keep memory flat over a million
customers."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from customers.models import Customer
from incidents.models import Incident, IncidentCustomer

BLOCK = 20_000
# The first block is small so the first rows leave at once.
FIRST_BLOCK = 1_000


@dataclass(frozen=True)
class Interval:
    incident_id: int
    is_outage: bool
    start: int  # seconds from the period's start
    end: int


def _clip(start: datetime | None, end: datetime | None, lo: datetime, hi: datetime):
    if start is None or end is None:
        return None
    start, end = max(start, lo), min(end, hi)
    return (start, end) if end > start else None


def outage_intervals(*, since: datetime, until: datetime, now: datetime) -> list[Interval]:
    """Every outage and maintenance that ran inside the period, clipped to it."""
    hi = min(until, now)
    outages = Incident.objects.filter(kind=Incident.Kind.OUTAGE).exclude(
        status=Incident.Status.DRAFT
    )
    maintenance = Incident.objects.filter(
        kind=Incident.Kind.MAINTENANCE,
        status__in=[Incident.Status.IN_PROGRESS, Incident.Status.COMPLETED],
    )
    intervals = []
    started = Q(started_at__lt=hi) | Q(started_at__isnull=True, created_at__lt=hi)
    for row in (
        outages.filter(started)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=since))
        .values("id", "started_at", "created_at", "resolved_at")
    ):
        span = _clip(row["started_at"] or row["created_at"], row["resolved_at"] or now, since, hi)
        if span:
            intervals.append(_interval(row["id"], True, span, since))
    for row in maintenance.filter(scheduled_start__lt=hi).values(
        "id", "scheduled_start", "scheduled_end", "resolved_at"
    ):
        span = _clip(row["scheduled_start"], row["resolved_at"] or row["scheduled_end"], since, hi)
        if span:
            intervals.append(_interval(row["id"], False, span, since))
    return intervals


def _interval(incident_id: int, is_outage: bool, span, since: datetime) -> Interval:
    start, end = span
    return Interval(
        incident_id,
        is_outage,
        int((start - since).total_seconds()),
        int((end - since).total_seconds()),
    )


# Each customer's incidents, one row per customer: an index-only pass over
# (customer, incident) in index order, grouped as it goes. Only a quoted
# table name and a fixed function are interpolated; values are parameters.
_INCIDENT_SETS_SQL = """
SELECT customer_id, {concat} FROM {links}
WHERE customer_id BETWEEN %s AND %s
GROUP BY customer_id
"""
# Above this many different incident sets the memo starts afresh (memory stays bounded).
_MEMO_LIMIT = 100_000


def _union_seconds(spans: list[tuple[int, int]]) -> int:
    """The length of the union of intervals: each minute once, however many overlap."""
    total, reached = 0, None
    for start, end in sorted(spans):
        if reached is None or start > reached:
            total += end - start
            reached = end
        elif end > reached:
            total += end - reached
            reached = end
    return total


class _Minutes:
    """Outage and maintenance minutes for a set of incidents, computed once
    per distinct set: the customers of one site share one set, so a million
    customers come down to a few thousand unions."""

    def __init__(self, intervals: list[Interval]):
        self.by_id = {i.incident_id: i for i in intervals}
        self.memo: dict[str, tuple[int, int, list[int]]] = {}

    def of(self, incident_ids: str) -> tuple[int, int, list[int]]:
        found = self.memo.get(incident_ids)
        if found is None:
            if len(self.memo) >= _MEMO_LIMIT:
                self.memo.clear()
            found = self.memo[incident_ids] = self._compute(incident_ids)
        return found

    def _compute(self, incident_ids: str) -> tuple[int, int, list[int]]:
        hits = [self.by_id[int(i)] for i in incident_ids.split(",") if int(i) in self.by_id]
        outage = _union_seconds([(i.start, i.end) for i in hits if i.is_outage])
        maintenance = _union_seconds([(i.start, i.end) for i in hits if not i.is_outage])
        return round(outage / 60), round(maintenance / 60), sorted(i.incident_id for i in hits)


def _incident_sets_sql() -> str:
    concat = (
        "string_agg(CAST(incident_id AS text), ',')"
        if connection.vendor == "postgresql"
        else "group_concat(incident_id)"
    )
    links = connection.ops.quote_name(IncidentCustomer._meta.db_table)
    return _INCIDENT_SETS_SQL.format(concat=concat, links=links)


def _block_minutes(minutes: _Minutes, low: int, high: int) -> dict[int, tuple[int, int, list[int]]]:
    with connection.cursor() as cursor:
        cursor.execute(_incident_sets_sql(), [low, high])
        return {customer_id: minutes.of(ids) for customer_id, ids in cursor.fetchall() if ids}


def outage_minutes_rows(
    *,
    customers: QuerySet[Customer],
    since: datetime,
    until: datetime,
    now: datetime | None = None,
    block: int = BLOCK,
) -> Iterator[dict]:
    """One row per customer of the queryset, in id order, streamed block by block."""
    now = now or timezone.now()
    intervals = outage_intervals(since=since, until=until, now=now)
    minutes = _Minutes(intervals)
    ordered = customers.order_by("pk").values_list("pk", "account_number", "name")
    last, size = 0, min(block, FIRST_BLOCK)
    while True:
        batch = list(ordered.filter(pk__gt=last)[:size])
        size = block
        if not batch:
            return
        last = batch[-1][0]
        found = _block_minutes(minutes, batch[0][0], last) if intervals else {}
        for pk, account_number, name in batch:
            outage, maintenance, ids = found.get(pk, (0, 0, []))
            yield {
                "customer": pk,
                "account_number": account_number,
                "name": name,
                "outage_minutes": outage,
                "maintenance_minutes": maintenance,
                "incidents": ids,
            }


def outage_minutes_for_customers(
    *, customer_ids: list[int], since: datetime, until: datetime, now: datetime | None = None
) -> dict[int, dict]:
    """The rows of a few given customers (a page of the JSON report, a customer's page)."""
    customers = Customer.objects.filter(pk__in=customer_ids)
    rows = outage_minutes_rows(customers=customers, since=since, until=until, now=now)
    return {row["customer"]: row for row in rows}
