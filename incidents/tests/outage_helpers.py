"""Incidents built row by row for the tests of what customers and the public
see of them (the status page, the portal, the outage-minutes report)."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from customers.models import Customer, ServiceType, Site
from incidents.models import Incident, IncidentCustomer, IncidentUpdate


def site(code: str, *, location: str = "", public: bool = False) -> Site:
    return Site.objects.create(code=code, name=f"Site {code}", location=location, public=public)


def customer(account: str, **fields) -> Customer:
    defaults = {
        "name": f"Customer {account}",
        "email": f"{account.lower()}@mail.example",
        "phone": "+79001234567",
        # Open all day: what is sent does not depend on the hour the tests run at.
        "contact_window_start": time(0, 0),
        "contact_window_end": time(0, 0),
    }
    return Customer.objects.create(account_number=account, **(defaults | fields))


def service(code: str, name: str) -> ServiceType:
    return ServiceType.objects.get_or_create(code=code, defaults={"name": name})[0]


def outage(
    title: str = "Fibre cut",
    *,
    customers=(),
    scope: dict | None = None,
    status: str = Incident.Status.INVESTIGATING,
    started_at: datetime | None = None,
    resolved_at: datetime | None = None,
    updates=("We are looking into it.",),
    **fields,
) -> Incident:
    started_at = started_at or timezone.now() - timedelta(minutes=30)
    incident = Incident.objects.create(
        kind=Incident.Kind.OUTAGE,
        title=title,
        status=status,
        scope=scope or {},
        channels=["email"],
        started_at=started_at,
        resolved_at=resolved_at,
        created_at=started_at,
        **fields,
    )
    _audience(incident, customers)
    for offset, body in enumerate(updates):
        IncidentUpdate.objects.create(
            incident=incident,
            kind=IncidentUpdate.Kind.DECLARATION if offset == 0 else IncidentUpdate.Kind.UPDATE,
            status=status,
            body=body,
            created_at=started_at + timedelta(minutes=offset),
        )
    return incident


def maintenance(
    title: str = "Router upgrade",
    *,
    customers=(),
    scope: dict | None = None,
    start: datetime,
    end: datetime,
    status: str = Incident.Status.SCHEDULED,
    body: str = "We will upgrade the routers.",
    **fields,
) -> Incident:
    incident = Incident.objects.create(
        kind=Incident.Kind.MAINTENANCE,
        title=title,
        status=status,
        scope=scope or {},
        channels=["email"],
        scheduled_start=start,
        scheduled_end=end,
        **fields,
    )
    _audience(incident, customers)
    IncidentUpdate.objects.create(
        incident=incident, kind=IncidentUpdate.Kind.ANNOUNCEMENT, status=status, body=body
    )
    return incident


def _audience(incident: Incident, customers) -> None:
    IncidentCustomer.objects.bulk_create(
        IncidentCustomer(incident=incident, customer=c) for c in customers
    )
