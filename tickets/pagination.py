from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.response import Response

from config.pagination import StandardPagination


class PartitionedCountPaginator(Paginator):
    """Counts `a OR b` as count(a) + count(b) when the list gives its rows
    as such disjoint parts (querysets in `count_partitions`). PostgreSQL answers COUNT(*) of
    `assignee = me OR assignee IS NULL` by reading a whole index; each part
    alone is a short index-only range. A list that already counted itself
    says so in `known_count` (and in `count_is_estimate` when that count is
    the planner's estimate)."""

    @cached_property
    def count(self) -> int:
        known = getattr(self.object_list, "known_count", None)
        if known is not None:
            return known
        parts = getattr(self.object_list, "count_partitions", None)
        if not parts:
            return super().count
        return sum(part.count() for part in parts)

    @cached_property
    def count_is_estimate(self) -> bool:
        return getattr(self.object_list, "count_is_estimate", False)


class TicketPagination(StandardPagination):
    """The standard page, with `count_is_estimate`: true only for a search
    with more than ten thousand matches, whose count is the planner's."""

    django_paginator_class = PartitionedCountPaginator

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count,
                "count_is_estimate": paginator.count_is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_is_estimate"] = {"type": "boolean"}
        return response
