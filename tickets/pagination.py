from django.core.paginator import Paginator
from django.utils.functional import cached_property

from config.pagination import StandardPagination


class PartitionedCountPaginator(Paginator):
    """Counts `a OR b` as count(a) + count(b) when the list gives its rows
    as such disjoint parts (querysets in `count_partitions`). PostgreSQL answers COUNT(*) of
    `assignee = me OR assignee IS NULL` by reading a whole index; each part
    alone is a short index-only range. A list that already counted itself
    says so in `known_count`."""

    @cached_property
    def count(self) -> int:
        known = getattr(self.object_list, "known_count", None)
        if known is not None:
            return known
        parts = getattr(self.object_list, "count_partitions", None)
        if not parts:
            return super().count
        return sum(part.count() for part in parts)


class TicketPagination(StandardPagination):
    django_paginator_class = PartitionedCountPaginator
