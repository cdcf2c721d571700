"""Pagination for the customer list, which may hold millions of rows.

Page numbers (`?page=`) work for the first MAX_ROWS rows of any list; the
`count` is exact up to a thousand and above that the database's
estimate (`count_is_estimate: true`), so neither COUNT(*) nor OFFSET ever
walks a million rows. To go through a whole list, pass `?cursor=` (empty to
start) and follow `next`: keyset pagination, as fast on the last page as on
the first.
"""

from django.core.paginator import InvalidPage
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.pagination import EstimatedCountPage, estimated_count
from customers.filters import CustomerFilter, search_condition, search_terms
from customers.models import CustomerSearchEntry
from customers.selectors import customer_page_ids

MAX_ROWS = 10_000


class CustomerCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("name", "id")


class CustomerPagination(EstimatedCountPage, PageNumberPagination):
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
        # A deferred join in one round trip: the page's ids come from the
        # (covering) ordering index in a subquery, the full rows only for them.
        page_ids = queryset.values("pk")[offset : offset + page_size + 1]
        if request.query_params.get("search", "").strip():
            # A search's page is found in two steps (see the selector).
            page_ids = customer_page_ids(
                queryset=queryset,
                offset=offset,
                limit=page_size + 1,
                entries=_search_entries(request)
                if getattr(view, "whole_directory", False)
                else None,
            )
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

    def page_count(self) -> tuple[int, bool]:
        return self.count, self.count_is_estimate

    def get_paginated_response(self, data):
        if self.cursor is not None:
            return self.cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        # A ?cursor= page has no count: counting is what it avoids.
        response["required"] = ["results"]
        response["properties"]["count"]["description"] = "Absent on ?cursor= pages."
        response["properties"]["count_is_estimate"]["description"] = "Absent on ?cursor= pages."
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


def _search_entries(request) -> QuerySet | None:
    """A search of the whole directory with no other filter: the same search
    over the narrow, name-ordered copy (see customer_page_ids). None when a
    filter narrows the list too: that needs the customer table itself."""
    params = request.query_params
    if any(params.get(name, "").strip() for name in CustomerFilter.base_filters):
        return None
    entries = CustomerSearchEntry.objects.all()
    for term in search_terms(params.get("search", "")):
        entries = entries.filter(search_condition(term))
    return entries
