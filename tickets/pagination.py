from django.core.paginator import Paginator
from django.utils.functional import cached_property

from config.pagination import EstimatedCountPage, StandardPagination


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


class TicketPagination(EstimatedCountPage, StandardPagination):
    """The standard page, with `count_is_estimate`: true only for a search
    with more than ten thousand matches, whose count is the planner's."""

    django_paginator_class = PartitionedCountPaginator

    def page_count(self) -> tuple[int, bool]:
        paginator = self.page.paginator
        return paginator.count, paginator.count_is_estimate
