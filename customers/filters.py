"""List filters of the directory; each accepts several comma-separated values."""

import re

import django_filters
from django.db.models import Q, QuerySet
from rest_framework.filters import OrderingFilter, SearchFilter

from config.filters import FilterSet
from customers.models import Customer, Site
from customers.selectors import site_subtree_q, tagged_q


def split_values(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


class CommaFilter(django_filters.CharFilter):
    """`?field=a,b` → field IN (a, b)."""

    def __init__(self, *args, lookup: str, **kwargs):
        self.lookup = lookup
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        values = split_values(value or "")
        if not values:
            return qs
        return qs.filter(**{f"{self.lookup}__in": values})


class CustomerFilter(FilterSet):
    location = CommaFilter(lookup="location", help_text="Locations, comma-separated.")
    last_mile_site = django_filters.CharFilter(
        method="filter_site",
        help_text="Site codes, comma-separated; includes customers of every site beneath them.",
    )
    service_type = CommaFilter(lookup="service_type__code", help_text="Service type codes.")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Tag names, comma-separated.")
    operator_code = CommaFilter(lookup="operator_code", help_text="Operator codes, e.g. 900,903.")
    timezone = CommaFilter(lookup="timezone", help_text="IANA time zones, comma-separated.")
    is_active = django_filters.CharFilter(method="filter_active", help_text="true or false.")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_site(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        codes = split_values(value)
        return qs.filter(site_subtree_q(codes)) if codes else qs

    def filter_tag(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        names = split_values(value)
        if not names:
            return qs
        return qs.filter(tagged_q(names))

    def filter_active(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        wanted = set()
        for v in split_values(value.lower()):
            if v in ("true", "1", "yes"):
                wanted.add(True)
            elif v in ("false", "0", "no"):
                wanted.add(False)
        return qs.filter(is_active__in=wanted) if wanted else qs


class SiteFilter(FilterSet):
    location = CommaFilter(lookup="location", help_text="Locations, comma-separated.")
    parent = django_filters.CharFilter(
        method="filter_parent", help_text="Parent site code; 'none' for the top of the tree."
    )
    beneath = django_filters.CharFilter(
        method="filter_beneath", help_text="A site code: that site and every site beneath it."
    )

    class Meta:
        model = Site
        fields = ["depth"]

    def filter_parent(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value.lower() in ("none", "null", ""):
            return qs.filter(parent__isnull=True)
        return qs.filter(parent__code__in=split_values(value))

    def filter_beneath(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(site_subtree_q(split_values(value), prefix=""))


PHONE_LIKE = re.compile(r"^[\d\s()+\-.]+$")


def search_terms(text: str) -> list[str]:
    """Words to find (all of them). Something typed like a phone number
    ("+7 900 123-45") is one term of its digits, as numbers are stored."""
    text = text.strip()
    if PHONE_LIKE.match(text) and sum(c.isdigit() for c in text) >= 3:
        return ["".join(c for c in text if c.isdigit())]
    return [t for t in text.replace(",", " ").split() if t]


def search_condition(term: str) -> Q:
    """One term: anywhere in the name, anywhere in the phone's digits, or at
    the start of the email or account number (each shape has its index,
    see migration 0004)."""
    condition = (
        Q(name__icontains=term)
        | Q(email__startswith=term.lower())
        | Q(account_number__istartswith=term)
    )
    if term.lstrip("+").isdigit():
        condition |= Q(phone__contains=term.lstrip("+"))
    return condition


class CustomerSearchFilter(SearchFilter):
    """`?search=`: customers whose name contains each term, or whose phone
    contains it (digits), or whose email or account number starts with it."""

    def filter_queryset(self, request, queryset, view):
        for term in search_terms(request.query_params.get(self.search_param, "")):
            queryset = queryset.filter(search_condition(term))
        return queryset


class TieBreakOrderingFilter(OrderingFilter):
    """Adds the id as the last ordering key so pages never overlap."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not any(o.lstrip("-") == "id" for o in ordering):
            descending = bool(ordering) and ordering[-1].startswith("-")
            ordering.append("-id" if descending else "id")
        return ordering
