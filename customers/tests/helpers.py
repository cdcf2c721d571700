"""Small builders for directory tests: a site tree and customers."""

import itertools

from customers.models import Customer, ServiceType, Site
from customers.services import customer_create, site_create

_numbers = itertools.count(1)


def tree() -> dict[str, Site]:
    """POP1 → AN1 → LM1 → CAB1 (four levels) and a sibling branch POP1 → AN2 → LM2,
    plus a second POP."""
    pop = site_create(code="POP1", name="POP one", location="Moscow")
    an1 = site_create(code="AN1", name="Access node 1", location="Moscow", parent=pop)
    lm1 = site_create(code="LM1", name="Last mile 1", location="Moscow", parent=an1)
    cab1 = site_create(code="CAB1", name="Cabinet 1", location="Moscow", parent=lm1)
    an2 = site_create(code="AN2", name="Access node 2", location="Moscow", parent=pop)
    lm2 = site_create(code="LM2", name="Last mile 2", location="Moscow", parent=an2)
    pop2 = site_create(code="POP2", name="POP two", location="London")
    return {s.code: s for s in (pop, an1, lm1, cab1, an2, lm2, pop2)}


def service(code: str = "fibre") -> ServiceType:
    return ServiceType.objects.get_or_create(code=code, defaults={"name": code.title()})[0]


def customer(**fields) -> Customer:
    n = next(_numbers)
    data = {
        "account_number": f"T-{n:05d}",
        "name": f"Customer {n}",
        "email": f"customer{n}@example.net",
        "phone": f"+7900{n:07d}",
        "operator_code": "900",
        "tags": [],
    }
    data.update(fields)
    return customer_create(data=data)
