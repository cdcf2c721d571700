"""Incident reads."""

import math

from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q, QuerySet, Subquery

from customers.models import Customer
from customers.selectors import customer_audience
from delivery.models import Message, MessageStatus
from incidents.models import Incident, IncidentCustomer, IncidentUpdate
from notifications.models import Notification
from notifications.selectors import notification_totals

# The statuses of an outage still going on (a draft is not announced yet).
ACTIVE_OUTAGE_STATUSES = (
    Incident.Status.INVESTIGATING,
    Incident.Status.IDENTIFIED,
    Incident.Status.MONITORING,
)


def _posted_updates() -> QuerySet[IncidentUpdate]:
    return IncidentUpdate.objects.exclude(kind=IncidentUpdate.Kind.SUGGESTION)


def _audience_links(customer):
    return IncidentCustomer.objects.filter(incident=OuterRef("pk"), customer=customer)


def _scope_includes(scope: dict, customer) -> bool:
    """While a large scope is still being frozen (the second after its
    declaration) the scope itself says who is affected."""
    return customer_audience(audience=scope).filter(pk=customer.pk).exists()


def incidents_affecting(*, queryset: QuerySet[Incident], customer) -> QuerySet[Incident]:
    """The incidents of `queryset` whose audience includes the customer: the
    frozen audience, or, while a large scope is still being frozen, the scope."""
    unfrozen = [
        pk
        for pk, scope in queryset.filter(audience_frozen_at__isnull=True)
        .order_by()
        .values_list("pk", "scope")
        if _scope_includes(scope, customer)
    ]
    return queryset.filter(Q(Exists(_audience_links(customer))) | Q(pk__in=unfrozen))


# The fields of an incident's latest update read with it (the rest load when used).
_LATEST_FIELDS = ("id", "body", "created_at")


def incidents_active_for_customer(*, customer) -> list[Incident]:
    """Active outages whose audience includes the customer (as in
    `incidents_affecting`), newest first, each with `latest_update` (an
    IncidentUpdate or None). It runs on every ticket raised, so it is one
    query (an index lookup of the customer's audience links, the latest
    update read with each outage); an outage whose audience is still being
    frozen costs one more, for its scope."""
    latest = _posted_updates().filter(incident=OuterRef("pk")).order_by("-created_at", "-id")
    latest_fields = {f"latest_{name}": Subquery(latest.values(name)[:1]) for name in _LATEST_FIELDS}
    linked = Exists(_audience_links(customer))
    candidates = (
        Incident.objects.filter(kind=Incident.Kind.OUTAGE, status__in=ACTIVE_OUTAGE_STATUSES)
        .filter(Q(linked) | Q(audience_frozen_at__isnull=True))
        .annotate(linked=linked, **latest_fields)
        .order_by("-created_at", "-id")
    )
    incidents = [i for i in candidates if i.linked or _scope_includes(i.scope, customer)]
    for incident in incidents:
        incident.latest_update = None
        if incident.latest_id is not None:
            known = {name: getattr(incident, f"latest_{name}") for name in _LATEST_FIELDS}
            known["incident_id"] = incident.pk
            fields = [f.attname for f in IncidentUpdate._meta.concrete_fields if f.attname in known]
            update = IncidentUpdate.from_db(
                Incident.objects.db, fields, [known[name] for name in fields]
            )
            update.incident = incident
            incident.latest_update = update
    return incidents


def incident_active_outage_for_customer(*, customer) -> Incident | None:
    """The newest active outage affecting the customer, if any."""
    found = incidents_active_for_customer(customer=customer)
    return found[0] if found else None


def incident_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("created_by").prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("created_at", "id"))
    )


def incident_audience_customers(*, incident_id: int) -> QuerySet[Customer]:
    """The frozen audience, as a subquery (never a list of ids in Python)."""
    links = IncidentCustomer.objects.filter(incident_id=incident_id).values("customer_id")
    return Customer.objects.filter(pk__in=links)


def incident_told_customers(*, incident_id: int, exclude_notification_id: int | None = None):
    """Customers sent at least one notice of the incident (a message with
    status `sent`); superseded, expired, suppressed or failed ones do not
    count."""
    sent = Message.objects.filter(notification__incident_id=incident_id, status=MessageStatus.SENT)
    if exclude_notification_id is not None:
        sent = sent.exclude(notification_id=exclude_notification_id)
    return Customer.objects.filter(pk__in=sent.values("customer_id"))


TOLD_KINDS = (IncidentUpdate.Kind.CANCELLATION, IncidentUpdate.Kind.RESCHEDULE)


def incident_notice_customers(*, notification) -> QuerySet[Customer]:
    """Who one of the incident's notices is for (the notifications app asks
    through its hook when it materialises the notice): the root-cause report,
    a cancellation or a moved window goes to those already told; the notice
    of a widened scope to the customers that widening added; every other
    notice to the whole frozen audience."""
    incident_id = notification.incident_id
    if notification.kind == Notification.Kind.RCA:
        return incident_told_customers(
            incident_id=incident_id, exclude_notification_id=notification.pk
        )
    update = (
        IncidentUpdate.objects.filter(notification_id=notification.pk)
        .only("kind", "created_at")
        .first()
    )
    if update is not None and update.kind in TOLD_KINDS:
        return incident_told_customers(
            incident_id=incident_id, exclude_notification_id=notification.pk
        )
    if update is not None and update.kind == IncidentUpdate.Kind.WIDENING:
        links = IncidentCustomer.objects.filter(
            incident_id=incident_id, added_at=update.created_at
        ).values("customer_id")
        return Customer.objects.filter(pk__in=links)
    return incident_audience_customers(incident_id=incident_id)


def incident_visible_to_customer(*, queryset: QuerySet[Incident], customer) -> QuerySet[Incident]:
    """A customer's incidents: those whose audience includes them, once
    announced (a draft from monitoring is not news yet)."""
    announced = queryset.exclude(status=Incident.Status.DRAFT)
    return incidents_affecting(queryset=announced, customer=customer)


def incident_counts(*, incident_ids: list[int]) -> dict[int, dict]:
    """{id: {affected, notified, linked_tickets}} for a page of incidents,
    with one grouped query each."""
    counts = {pk: {"affected": 0, "notified": 0, "linked_tickets": 0} for pk in incident_ids}
    if not incident_ids:
        return counts
    affected = (
        IncidentCustomer.objects.filter(incident_id__in=incident_ids)
        .values_list("incident_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for pk, n in affected:
        counts[pk]["affected"] = n
    # An audience still being frozen (a large scope, moments after its
    # declaration) counts what its scope names.
    for pk, scope in Incident.objects.filter(
        pk__in=incident_ids, audience_frozen_at__isnull=True
    ).values_list("pk", "scope"):
        counts[pk]["affected"] = customer_audience(audience=scope).count()
    notified = (
        Message.objects.filter(
            notification__incident_id__in=incident_ids, status=MessageStatus.SENT
        )
        .values_list("notification__incident_id")
        .annotate(n=Count("customer_id", distinct=True))
        .order_by()
    )
    for pk, n in notified:
        counts[pk]["notified"] = n
    tickets = (
        Incident.objects.filter(pk__in=incident_ids)
        .annotate(n=Count("tickets"))
        .values_list("pk", "n")
        .order_by()
    )
    for pk, n in tickets:
        counts[pk]["linked_tickets"] = n
    return counts


def incident_audience_links(*, incident: Incident) -> QuerySet[IncidentCustomer]:
    return (
        IncidentCustomer.objects.filter(incident=incident)
        .select_related("customer", "customer__last_mile_site")
        .order_by("customer_id")
    )


def incident_audience_rows(*, incident: Incident, links) -> list[dict]:
    """A page of the audience, each customer with the latest notice they
    have a message of and that notice's status per channel."""
    customer_ids = [link.customer_id for link in links]
    messages = (
        Message.objects.filter(notification__incident=incident, customer_id__in=customer_ids)
        .values_list(
            "customer_id", "notification_id", "notification__kind", "channel", "status", "sent_at"
        )
        .order_by("customer_id", "-notification_id")
    )
    latest: dict[int, dict] = {}
    for customer_id, notification_id, kind, channel, status, sent_at in messages:
        notice = latest.setdefault(
            customer_id,
            {"notification": notification_id, "kind": kind, "statuses": {}, "sent_at": None},
        )
        if notice["notification"] != notification_id:
            continue
        notice["statuses"][channel] = status
        if sent_at and (notice["sent_at"] is None or sent_at > notice["sent_at"]):
            notice["sent_at"] = sent_at
    rows = []
    for link in links:
        customer = link.customer
        rows.append(
            {
                "customer": {
                    "id": customer.pk,
                    "account_number": customer.account_number,
                    "name": customer.name,
                    "timezone": customer.timezone,
                    "last_mile_site": customer.last_mile_site.code
                    if customer.last_mile_site
                    else None,
                },
                "added_at": link.added_at,
                "latest_notice": latest.get(link.customer_id),
            }
        )
    return rows


def incident_stats(*, incident: Incident) -> dict:
    """Affected, notified, each notice by status, and how long after the
    declaration 90% of the affected customers had been sent a notice."""
    counts = incident_counts(incident_ids=[incident.pk])[incident.pk]
    notices = list(Notification.objects.filter(incident=incident).order_by("created_at", "id"))
    totals = notification_totals(notification_ids=[n.pk for n in notices])
    seconds = None
    affected = counts["affected"]
    if affected:
        needed = math.ceil(affected * 0.9)
        firsts = (
            Message.objects.filter(notification__incident=incident, status=MessageStatus.SENT)
            .values("customer_id")
            .annotate(first=Min("sent_at"))
            .order_by("first")
            .values_list("first", flat=True)
        )
        reached = list(firsts[needed - 1 : needed])
        if reached and reached[0] is not None:
            seconds = round((reached[0] - incident.created_at).total_seconds(), 3)
    return {
        "id": incident.pk,
        "affected": affected,
        "notified": counts["notified"],
        "notices": [
            {
                "notification": n.pk,
                "kind": n.kind,
                "title": n.title,
                "status": n.status,
                **totals[n.pk],
            }
            for n in notices
        ],
        "seconds_to_90_percent_notified": seconds,
        "deflected": incident.deflected_count,
        "linked_tickets": counts["linked_tickets"],
    }
