from django.core.paginator import Paginator
from django.utils.functional import cached_property

from config.pagination import StandardPagination


class PartitionedCountPaginator(Paginator):
    """Counts `a OR b` as count(a) + count(b) when the list says its rows
    fall into such disjoint parts. PostgreSQL answers COUNT(*) of
    `assignee = me OR assignee IS NULL` by reading a whole index; each part
    alone is a short index-only range."""

    @cached_property
    def count(self) -> int:
        parts = getattr(self.object_list, "count_partitions", None)
        if not parts:
            return super().count
        return sum(self.object_list.filter(part).count() for part in parts)


class TicketPagination(StandardPagination):
    django_paginator_class = PartitionedCountPaginator
