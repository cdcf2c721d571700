import json

from django.db import connection
from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

EXACT_COUNT_LIMIT = 1_000


def _known_rows(table: str) -> float:
    """The analysed size of a table; -1 when never analysed (or just truncated)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row else -1


def planner_estimate(queryset: QuerySet) -> int:
    """How many rows PostgreSQL expects the queryset to give (EXPLAIN, not run)."""
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def estimated_count(
    queryset: QuerySet, *, exact_up_to: int = EXACT_COUNT_LIMIT
) -> tuple[int, bool]:
    """(count, is_estimate). On a large, analysed PostgreSQL table the
    planner's estimate is asked first (a millisecond); when it says "more
    than exact_up_to" that is the answer. Otherwise — a small table, or
    one whose statistics are unknown, where the planner guesses from page
    counts — the rows are counted exactly.
    SQLite (the embedded, small setup) always counts exactly."""
    queryset = queryset.order_by().values("pk")
    if connection.vendor != "postgresql":
        return queryset.count(), False
    large = _known_rows(queryset.model._meta.db_table) > 10 * exact_up_to
    estimate = 0
    if large:
        estimate = planner_estimate(queryset)
        if estimate > exact_up_to:
            return estimate, True
    exact = queryset[: exact_up_to + 1].count()
    if exact <= exact_up_to:
        return exact, False
    if large:  # the planner underestimated: never walk a large result
        return max(estimate, exact), True
    return queryset.count(), False


class EstimatedCountPage:
    """For a PageNumberPagination whose `count` may be the planner's
    estimate: the contract's page plus `count_is_estimate`. The class says
    what its count is in `page_count()`."""

    def page_count(self) -> tuple[int, bool]:
        raise NotImplementedError

    def get_paginated_response(self, data):
        count, is_estimate = self.page_count()
        return Response(
            {
                "count": count,
                "count_is_estimate": is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_estimate"] = {"type": "boolean"}
        return response


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class NewestFirstCursorPagination(CursorPagination):
    """For lists over large tables: no COUNT and no OFFSET scan on deep pages."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
