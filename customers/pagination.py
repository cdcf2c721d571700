"""Pagination for the customer list, which may hold millions of rows.

Page numbers (`?page=`) work for the first MAX_ROWS rows of any list; the
`count` is exact up to EXACT_COUNT_LIMIT and above that the database's
estimate (`count_is_estimate: true`), so neither COUNT(*) nor OFFSET ever
walks a million rows. To go through a whole list, pass `?cursor=` (empty to
start) and follow `next`: keyset pagination, as fast on the last page as on
the first.
"""

import json

from django.core.paginator import InvalidPage
from django.db import connection
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

EXACT_COUNT_LIMIT = 1_000
MAX_ROWS = 10_000


def _known_rows(table: str) -> float:
    """The analysed size of a table; -1 when never analysed (or just truncated)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row else -1


def estimated_count(queryset: QuerySet) -> tuple[int, bool]:
    """(count, is_estimate). On a large, analysed PostgreSQL table the
    planner's estimate is asked first (a millisecond); when it says "more
    than EXACT_COUNT_LIMIT" that is the answer. Otherwise — a small table, or
    one whose statistics are unknown, where the planner guesses from page
    counts — the rows are counted exactly.
    SQLite (the embedded, small setup) always counts exactly."""
    queryset = queryset.order_by().values("pk")
    if connection.vendor != "postgresql":
        return queryset.count(), False
    large = _known_rows(queryset.model._meta.db_table) > 10 * EXACT_COUNT_LIMIT
    estimate = 0
    if large:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate > EXACT_COUNT_LIMIT:
            return estimate, True
    exact = queryset[: EXACT_COUNT_LIMIT + 1].count()
    if exact <= EXACT_COUNT_LIMIT:
        return exact, False
    if large:  # the planner underestimated: never walk a large result
        return max(estimate, exact), True
    return queryset.count(), False


class CustomerCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("name", "id")


class CustomerPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.cursor = None
        if "cursor" in request.query_params:
            self.cursor = CustomerCursorPagination()
            rows_of = getattr(view, "page_rows", None)
            source = rows_of(queryset) if rows_of else queryset
            return self.cursor.paginate_queryset(source, request, view)
        page_size = self.get_page_size(request)
        try:
            self.number = int(request.query_params.get(self.page_query_param, 1))
            if self.number < 1:
                raise InvalidPage
        except (TypeError, ValueError, InvalidPage):
            raise NotFound("Invalid page; give a page number of 1 or more.") from None
        offset = (self.number - 1) * page_size
        if offset + page_size > MAX_ROWS and self.number > 1:
            raise ValidationError(
                {
                    "page": [
                        f"Page numbers reach the first {MAX_ROWS} customers only; narrow the "
                        "filters or page with ?cursor= and the next links."
                    ]
                }
            )
        # A deferred join: find the page's ids on the (covering) ordering
        # index first, then read only those rows.
        # A deferred join in one round trip: the page's ids come from the
        # (covering) ordering index in a subquery, the full rows only for them.
        page_ids = queryset.values("pk")[offset : offset + page_size + 1]
        source = queryset.model.objects.filter(pk__in=page_ids).order_by(*queryset.query.order_by)
        rows_of = getattr(view, "page_rows", None)
        rows = list(rows_of(source) if rows_of else source)
        self.has_next = len(rows) > page_size and offset + 2 * page_size <= MAX_ROWS
        if len(rows) <= page_size and (rows or self.number == 1):
            # This page is the last one: the count is known without asking.
            self.count, self.count_is_estimate = offset + len(rows), False
        else:
            self.count, self.count_is_estimate = estimated_count(queryset)
        if self.number > 1 and not rows:
            raise NotFound("Invalid page; this list has fewer pages.")
        return rows[:page_size]

    def get_next_link(self):
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.number + 1)

    def get_previous_link(self):
        if self.number <= 1:
            return None
        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data):
        if self.cursor is not None:
            return self.cursor.get_paginated_response(data)
        return Response(
            {
                "count": self.count,
                "count_is_estimate": self.count_is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_estimate"] = {"type": "boolean"}
        return response

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        parameters.append(
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "Keyset pagination: pass it (empty to start) and follow `next`.",
                "schema": {"type": "string"},
            }
        )
        return parameters
