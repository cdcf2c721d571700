"""The admin shows incidents and their timeline; it does not create them
(a declaration must go through the service that sends the notices)."""

import pytest

from incidents.services import incident_declare

pytestmark = pytest.mark.django_db


def test_staff_browse_incidents_in_the_admin(client, superuser, make_customer):
    make_customer(location="Moscow")
    incident = incident_declare(
        created_by=None,
        kind="outage",
        title="Fibre cut",
        scope={"location": ["Moscow"]},
        body="Down.",
    )
    client.force_login(superuser)
    assert "Fibre cut" in client.get("/admin/incidents/incident/").content.decode()
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert page.status_code == 200
    assert "Down." in page.content.decode()
    assert client.get("/admin/incidents/incident/add/").status_code == 403
