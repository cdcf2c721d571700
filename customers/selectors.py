"""Directory reads, and the one audience selector used by everything that
targets customers."""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC

from django.db import connection
from django.db.models import BooleanField, CharField, Count, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat

from config.pagination import planner_estimate
from customers.models import (
    CONTACT_FIELDS,
    PREFERENCE_FIELDS,
    Customer,
    CustomerSearchEntry,
    ServiceType,
    Site,
    Tag,
)

AUDIENCE_FIELDS = ("location", "last_mile_site", "service_type", "tag", "operator_code")


def site_subtree_q(codes: Iterable[str], *, prefix: str = "last_mile_site__") -> Q:
    """Customers of the given sites and of every site beneath them (with
    prefix="" : the sites themselves). The subtree is resolved to site ids
    first, so the customer query filters on its indexed foreign key."""
    codes = list(codes)
    if not codes:
        return Q(pk__in=[])
    table = Site._meta.db_table
    marks = ", ".join(["%s"] * len(codes))
    sql = (
        f"SELECT s.id FROM {table} s JOIN {table} top "  # noqa: S608
        f"ON s.path LIKE top.path || %s WHERE top.code IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["%", *codes])
        ids = [row[0] for row in cursor.fetchall()]
    return Q(**{f"{prefix}id__in": ids})


def tagged_q(names: Iterable[str]) -> Q:
    """Customers carrying any of the tags.

    Written as `id IN (...) OR false` on purpose: the OR keeps PostgreSQL
    from turning the IN into a join, so it hashes the tag's customers once
    and filters the list's ordered index scan through that set. As a join it
    probes an index per scanned customer, 20 times slower on a million rows
    with a rare tag."""
    links = Customer.tags.through.objects.filter(tag__name__in=list(names)).values("customer_id")
    never = ExpressionWrapper(Value(False), output_field=BooleanField())
    return Q(pk__in=links) | Q(never)


EMPTY_AUDIENCE = (
    "The audience names no one: give filters or customer_ids, "
    'or {"all": true} to reach every active customer.'
)


def audience_is_empty(*, audience: dict | None) -> bool:
    """True when an audience has no filter, no ids and no `all`."""
    audience = audience or {}
    if audience.get("all") is True or audience.get("customer_ids"):
        return False
    return not any(audience.get(field) for field in AUDIENCE_FIELDS)


def customer_audience(*, audience: dict | None) -> QuerySet[Customer]:
    """An audience spec → the active customers it names.

    Filters are AND-ed across fields and OR-ed within a field; an empty list
    means "any". `customer_ids` are added to the result. `{"all": true}` is
    every active customer; an audience with no filter and no ids is no one.
    """
    audience = audience or {}
    ids = [int(i) for i in audience.get("customer_ids") or []]
    has_filter = any(audience.get(field) for field in AUDIENCE_FIELDS)
    active = Customer.objects.filter(is_active=True)
    if audience.get("all") is True:
        return active
    if not has_filter and not ids:
        # Naming nobody reaches nobody ("everyone" is explicit). A real
        # condition rather than .none(): callers compile this into SQL.
        return active.filter(pk__isnull=True)
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
        filters &= tagged_q(audience["tag"])
    if ids:
        filters |= Q(pk__in=ids)
    return active.filter(filters)


# How far a search's page is looked for along the list's order before the
# search indexes are asked instead (see customer_page_ids). A term the walk
# is for (more than SEARCH_SORT_ROWS matches, spread through the names)
# has its first 50 within about 10,000 names; a term whose matches sit
# together far into the order pays the whole walk before the indexes
# answer: at a million customers 50,000 names cost about 40 ms of it.
SEARCH_WALK_ROWS = 15_000
# Up to this many matches (the planner's estimate) a search's page is found
# by its indexes straight away; from the search copy, whose matches sit
# together, up to SEARCH_COPY_SORT_ROWS (the 25,000 of "olga" at a million
# customers take 20–35 ms, where the walk would first pass 15,000 names).
SEARCH_SORT_ROWS = 5_000
SEARCH_COPY_SORT_ROWS = 100_000


def customer_page_ids(
    *,
    queryset: QuerySet[Customer],
    offset: int,
    limit: int,
    entries: QuerySet[CustomerSearchEntry] | None = None,
) -> list[int]:
    """The ids of one page of a searched customer list, in the list's order.

    A search over a million customers has two good plans on PostgreSQL, and
    the planner cannot tell which one a term needs: walking the (name, id)
    index and testing each row finds a page at once when the matches are
    spread through the names ("petrova"), but walks most of the index when
    they sit together far into it ("olga": every match is an "Olga …", past
    all the A–N names); the search indexes find every match and sort them,
    which costs in proportion to the matches. So a term the planner expects
    few matches for goes to the search indexes at once; otherwise the walk
    goes first but only over the first SEARCH_WALK_ROWS names, and when the
    page is not among them the search indexes answer (ordering by an
    expression the ordered index cannot give, so the planner uses them).
    Same rows, same order.

    `entries`, the same search over CustomerSearchEntry (a search with no
    other filter), lets the search indexes answer from that narrow copy in
    name order: the thousands of matches of "olga" sit on a few of its
    pages, where in the customer table each is on a page of its own."""
    ordering = tuple(queryset.query.order_by)

    def page(qs: QuerySet) -> list[int]:
        return list(qs.values_list("pk", flat=True)[offset : offset + limit])

    if connection.vendor != "postgresql" or ordering != ("name", "id"):
        return page(queryset)
    by_indexes = (queryset if entries is None else entries).order_by(
        Concat("name", Value("")), "id"
    )
    few = SEARCH_SORT_ROWS if entries is None else SEARCH_COPY_SORT_ROWS
    if planner_estimate(queryset) <= few:
        return page(by_indexes)  # few matches: finding and sorting them all is quick
    edge = _walk_edge()
    if edge is None:  # a directory this small is walked whole in milliseconds
        return page(queryset)
    # Every row up to that name (a prefix of the order, so its first page is
    # the list's): one range of the index, not a filter on all of it.
    walked = page(queryset.filter(name__lte=edge))
    if len(walked) == limit:
        return walked
    return page(by_indexes)


def _walk_edge() -> str | None:
    """The name about SEARCH_WALK_ROWS names into the order: from the
    column's statistics (a catalog read), or counted along the index when
    the table has none yet. None when the directory is not much larger."""
    table = Customer._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.histogram_bounds::text::text[], c.reltuples FROM pg_stats s "
            "JOIN pg_class c ON c.oid = %s::regclass "
            "WHERE s.tablename = %s AND s.attname = 'name'",
            [table, table],
        )
        row = cursor.fetchone()
    if row and row[0] and row[1] > 2 * SEARCH_WALK_ROWS:
        bounds, rows = row
        return bounds[int(len(bounds) * SEARCH_WALK_ROWS / rows)]
    edge = Customer.objects.order_by("name", "id").values_list("name", flat=True)
    found = list(edge[SEARCH_WALK_ROWS : SEARCH_WALK_ROWS + 1])
    return found[0] if found else None


def customer_of_user(*, user) -> Customer | None:
    """The directory record a customer account is linked to, if any."""
    return Customer.objects.filter(user=user).first()


def customer_list(*, tags: bool = True) -> QuerySet[Customer]:
    """Every customer with what the API shows about it, in one query plus
    tags (`tags=False` for a page that shows none)."""
    customers = Customer.objects.select_related("last_mile_site", "service_type")
    return customers.prefetch_related("tags") if tags else customers


def customer_keyset_page(
    customers: QuerySet[Customer], *, after: str, size: int
) -> tuple[list[Customer], int | None]:
    """One page in name order after the customer `after` (an id), and the id
    to continue after (None on the last page). Keyset paging: as fast on the
    thousandth page as on the first."""
    customers = customers.order_by("name", "id")
    if after.isdigit():
        anchor = Customer.objects.filter(pk=int(after)).values_list("name", flat=True).first()
        if anchor is not None:
            # name >= anchor lets the (name, id) index start the scan at the anchor.
            customers = customers.filter(name__gte=anchor).filter(
                Q(name__gt=anchor) | Q(id__gt=int(after))
            )
    rows = list(customers[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


def service_type_list() -> QuerySet[ServiceType]:
    return ServiceType.objects.order_by("name")


def service_type_list_with_counts() -> QuerySet[ServiceType]:
    """Service types by code, each with `customer_count`."""
    return ServiceType.objects.annotate(customer_count=Count("customers")).order_by("code")


def site_tree() -> list[dict]:
    """Every site with its own and its subtree's customer count, as nested nodes."""
    direct = dict(
        Customer.objects.filter(last_mile_site__isnull=False)
        .values_list("last_mile_site")
        .annotate(n=Count("id"))
        .values_list("last_mile_site", "n")
    )
    nodes = {
        row["id"]: {**row, "direct": direct.get(row["id"], 0), "total": 0, "children": []}
        for row in Site.objects.values("id", "code", "name", "location", "parent_id", "path")
    }
    for node in nodes.values():
        for ancestor in filter(None, node["path"].split("/")):
            if int(ancestor) in nodes:
                nodes[int(ancestor)]["total"] += node["direct"]
        if not node["path"]:
            node["total"] += node["direct"]
    roots = []
    for node in sorted(nodes.values(), key=lambda n: (n["name"].lower(), n["code"])):
        parent = nodes.get(node["parent_id"])
        (parent["children"] if parent else roots).append(node)
    return roots


def site_choices() -> QuerySet:
    """(code, name) of every site, by code."""
    return Site.objects.order_by("code").values_list("code", "name")


# What a list page reads: plain values, no model instances (a page of a
# million-row list must cost milliseconds, not a pass through the ORM's
# instance machinery).
LIST_VALUES = (
    "id",
    *CONTACT_FIELDS,
    "last_mile_site__code",
    "service_type__code",
    *PREFERENCE_FIELDS,
    "marketing_opt_in",
    "is_active",
    "created_at",
    "updated_at",
)


def _tag_names_sql() -> str:
    links, tags = Customer.tags.through._meta.db_table, Tag._meta.db_table
    if connection.vendor == "postgresql":
        aggregate = "string_agg(t.name, ';' ORDER BY t.name)"
    else:
        aggregate = "group_concat(t.name, ';')"
    return (
        f"(SELECT {aggregate} FROM {links} l JOIN {tags} t ON t.id = l.tag_id "  # noqa: S608
        f'WHERE l.customer_id = "customers_customer"."id")'
    )


def customer_rows(queryset: QuerySet[Customer]) -> QuerySet:
    """The list's rows as dictionaries (see `customer_represent`), with the
    tag names in the same query."""
    tag_names = RawSQL(_tag_names_sql(), [], output_field=CharField())  # noqa: S611 - fixed SQL
    return queryset.annotate(tag_names=tag_names).values(*LIST_VALUES, "tag_names")


def _time(value) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def _moment(value) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def customer_represent(row: dict, tags: list[str]) -> dict:
    """A customer as the API shows it, from a `customer_rows` dictionary."""
    return {
        "id": row["id"],
        "account_number": row["account_number"],
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "operator_code": row["operator_code"],
        "location": row["location"],
        "last_mile_site": row["last_mile_site__code"],
        "service_type": row["service_type__code"],
        "tags": sorted(tags),
        "timezone": row["timezone"],
        "contact_window_start": _time(row["contact_window_start"]),
        "contact_window_end": _time(row["contact_window_end"]),
        "email_opt_in": row["email_opt_in"],
        "sms_opt_in": row["sms_opt_in"],
        "marketing_opt_in": row["marketing_opt_in"],
        "is_active": row["is_active"],
        "created_at": _moment(row["created_at"]),
        "updated_at": _moment(row["updated_at"]),
    }


def customers_represent(rows: list[dict]) -> list[dict]:
    """Rows of `customer_rows` as the API shows them."""
    return [
        customer_represent(row, row["tag_names"].split(";") if row["tag_names"] else [])
        for row in rows
    ]


def _descending(counts: dict) -> dict:
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def audience_preview(*, audience: dict | None, sample_size: int = 10) -> dict:
    """Who an audience reaches: the count, how many can be emailed or texted,
    breakdowns by last-mile site, service type and time zone (customers with
    none are under ""), and a few of them.

    One pass over the audience: it is grouped by (site, service type, time
    zone) in the database, and the few hundred groups are summed here."""
    queryset = customer_audience(audience=audience)
    groups = (
        queryset.order_by()
        .values_list("last_mile_site_id", "service_type_id", "timezone")
        .annotate(
            n=Count("id"),
            email=Count("id", filter=~Q(email="") & Q(email_opt_in=True)),
            sms=Count("id", filter=~Q(phone="") & Q(sms_opt_in=True)),
        )
    )
    sites = dict(Site.objects.values_list("id", "code"))
    services = dict(ServiceType.objects.values_list("id", "code"))
    count = email = sms = 0
    by_site: Counter = Counter()
    by_service: Counter = Counter()
    by_timezone: Counter = Counter()
    for site_id, service_id, zone, n, can_email, can_text in groups:
        count, email, sms = count + n, email + can_email, sms + can_text
        by_site[sites.get(site_id, "")] += n
        by_service[services.get(service_id, "")] += n
        by_timezone[zone] += n
    sample = customer_rows(queryset.order_by("id")[:sample_size])
    return {
        "count": count,
        "reachable": {"email": email, "sms": sms},
        "by_site": _descending(by_site),
        "by_service_type": _descending(by_service),
        "by_timezone": _descending(by_timezone),
        "sample": customers_represent(list(sample)),
    }
