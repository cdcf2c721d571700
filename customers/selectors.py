"""Directory reads, and the one audience selector used by everything that
targets customers."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from customers.models import Customer, Site

AUDIENCE_FIELDS = ("location", "last_mile_site", "service_type", "tag", "operator_code")


def site_subtree_q(codes: Iterable[str], *, prefix: str = "last_mile_site__") -> Q:
    """Customers of the given sites and of every site beneath them."""
    paths = list(Site.objects.filter(code__in=list(codes)).values_list("path", flat=True))
    if not paths:
        return Q(pk__in=[])
    query = Q()
    for path in paths:
        query |= Q(**{f"{prefix}path__startswith": path})
    return query


def customer_audience(*, audience: dict | None) -> QuerySet[Customer]:
    """An audience spec → the active customers it names.

    Filters are AND-ed across fields and OR-ed within a field; an empty list
    means "any". `customer_ids` are added to the result. An audience with no
    filter and no ids is every active customer.
    """
    audience = audience or {}
    ids = [int(i) for i in audience.get("customer_ids") or []]
    has_filter = any(audience.get(field) for field in AUDIENCE_FIELDS)
    active = Customer.objects.filter(is_active=True)
    if not has_filter and ids:
        return active.filter(pk__in=ids)
    filters = Q()
    if audience.get("location"):
        filters &= Q(location__in=audience["location"])
    if audience.get("last_mile_site"):
        filters &= site_subtree_q(audience["last_mile_site"])
    if audience.get("service_type"):
        filters &= Q(service_type__code__in=audience["service_type"])
    if audience.get("operator_code"):
        filters &= Q(operator_code__in=audience["operator_code"])
    if audience.get("tag"):
        filters &= Q(
            pk__in=Customer.tags.through.objects.filter(tag__name__in=audience["tag"]).values(
                "customer_id"
            )
        )
    if ids:
        filters |= Q(pk__in=ids)
    return active.filter(filters)
