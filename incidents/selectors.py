"""Incident reads."""

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from incidents.models import Incident, IncidentUpdate

# The statuses of an outage still going on (a draft is not announced yet).
ACTIVE_OUTAGE_STATUSES = (
    Incident.Status.INVESTIGATING,
    Incident.Status.IDENTIFIED,
    Incident.Status.MONITORING,
)


def _posted_updates() -> QuerySet[IncidentUpdate]:
    return IncidentUpdate.objects.exclude(kind=IncidentUpdate.Kind.SUGGESTION)


def incidents_active_for_customer(*, customer) -> list[Incident]:
    """Active outages whose frozen audience includes the customer, newest
    first, each with `latest_update` (an IncidentUpdate or None)."""
    latest = _posted_updates().filter(incident=OuterRef("pk")).order_by("-created_at", "-id")
    incidents = list(
        Incident.objects.filter(
            kind=Incident.Kind.OUTAGE,
            status__in=ACTIVE_OUTAGE_STATUSES,
            audience_links__customer=customer,
        )
        .annotate(latest_update_id=Subquery(latest.values("pk")[:1]))
        .order_by("-created_at", "-id")
    )
    updates = IncidentUpdate.objects.in_bulk(
        [i.latest_update_id for i in incidents if i.latest_update_id]
    )
    for incident in incidents:
        incident.latest_update = updates.get(incident.latest_update_id)
    return incidents


def incident_active_outage_for_customer(*, customer) -> Incident | None:
    """The newest active outage affecting the customer, if any."""
    found = incidents_active_for_customer(customer=customer)
    return found[0] if found else None


def incident_list() -> QuerySet[Incident]:
    return Incident.objects.select_related("created_by").prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("created_at", "id"))
    )
