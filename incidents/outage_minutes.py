"""Outage minutes per customer, for SLA credits and regulators.

For a period, each customer's outage minutes are the minutes during which
at least one outage whose frozen audience included them was going on, from
its start (`started_at`, else its declaration) to its resolution (or now);
overlapping outages count each minute once. Maintenance is counted apart
the same way, from its start to its completion (or its scheduled end).

The few incidents of the period become a list of intervals in seconds from
the period's start (computed here: a few hundred at most). The database
then does the rest for a block of customers at a time with integer
arithmetic and one window function: ordered by start, an interval adds only
what reaches past the furthest end before it (the classic union length),
so no Python loop ever touches an audience row. Blocks go by customer id
(keyset), which streams the first rows at once and keeps memory flat over a
million customers."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from customers.models import Customer
from incidents.models import Incident, IncidentCustomer

BLOCK = 5000


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


_UNION_SQL = """
WITH iv(incident_id, is_outage, s, e) AS (VALUES {values}),
hits AS (
    SELECT ic.customer_id, iv.incident_id, iv.is_outage, iv.s, iv.e
    FROM {links} ic JOIN iv ON iv.incident_id = ic.incident_id
    WHERE ic.customer_id BETWEEN %s AND %s
),
ordered AS (
    SELECT customer_id, incident_id, is_outage, s, e,
        MAX(e) OVER (
            PARTITION BY customer_id, is_outage ORDER BY s, e, incident_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reached
    FROM hits
),
added AS (
    SELECT customer_id, incident_id, is_outage,
        CASE WHEN reached IS NULL OR reached < s THEN e - s
             WHEN reached < e THEN e - reached
             ELSE 0 END AS seconds
    FROM ordered
)
SELECT customer_id,
    SUM(CASE WHEN is_outage = 1 THEN seconds ELSE 0 END),
    SUM(CASE WHEN is_outage = 0 THEN seconds ELSE 0 END),
    {concat}
FROM added GROUP BY customer_id
"""


def _union_sql(intervals: list[Interval]) -> tuple[str, list]:
    values = ", ".join(["(%s, %s, %s, %s)"] * len(intervals))
    params: list = []
    for i in intervals:
        params += [i.incident_id, 1 if i.is_outage else 0, i.start, i.end]
    concat = (
        "string_agg(DISTINCT CAST(incident_id AS text), ',')"
        if connection.vendor == "postgresql"
        else "group_concat(DISTINCT incident_id)"
    )
    links = connection.ops.quote_name(IncidentCustomer._meta.db_table)
    # Only the placeholders of the VALUES list, a quoted table name and a
    # fixed function are interpolated; every value is a parameter.
    sql = _UNION_SQL.format(values=values, links=links, concat=concat)
    return sql, params


def _block_minutes(
    sql: str, params: list, low: int, high: int
) -> dict[int, tuple[int, int, list[int]]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, low, high])
        rows = cursor.fetchall()
    return {
        customer_id: (
            round((outage or 0) / 60),
            round((maintenance or 0) / 60),
            sorted(int(i) for i in str(ids).split(",") if i) if ids else [],
        )
        for customer_id, outage, maintenance, ids in rows
    }


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
    sql, params = _union_sql(intervals) if intervals else ("", [])
    ordered = customers.order_by("pk").values_list("pk", "account_number", "name")
    last = 0
    while True:
        batch = list(ordered.filter(pk__gt=last)[:block])
        if not batch:
            return
        last = batch[-1][0]
        minutes = _block_minutes(sql, params, batch[0][0], last) if intervals else {}
        for pk, account_number, name in batch:
            outage, maintenance, ids = minutes.get(pk, (0, 0, []))
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
