"""Who may do what with incidents: staff everything; a customer reads only
the incidents that affect them, with public fields; strangers nothing."""

import pytest

from conftest import client_for
from customers.models import Customer
from incidents.api import PUBLIC_FIELDS
from incidents.models import Incident
from incidents.tests.helpers import URL, declare

pytestmark = pytest.mark.django_db

STAFF_ONLY = [
    ("patch", "{id}/", {"title": "Renamed"}),
    ("post", "{id}/updates/", {"body": "Update"}),
    ("post", "{id}/resolve/", {}),
    ("post", "{id}/complete/", {}),
    ("post", "{id}/cancel/", {}),
    ("post", "{id}/rca/", {"body": "Cause"}),
    ("get", "{id}/audience/", None),
    ("get", "{id}/tickets/", None),
    ("get", "{id}/stats/", None),
]
# What staff read and a customer must not: the scope, who else is affected, alarms.
STAFF_ONLY_FIELDS = {"scope", "affected_count", "notified_count", "alerts", "created_by"}


@pytest.fixture
def node(db):
    from customers.services import site_create

    return site_create(code="NODE-1", name="North node")


@pytest.fixture
def carol(customer_user, node):
    customer = Customer.objects.get(user=customer_user)
    customer.last_mile_site = node
    customer.save()
    return customer


@pytest.fixture
def outsider_client(other_customer_user):
    return client_for(other_customer_user)


@pytest.fixture
def outage(engineer_client, carol):
    return declare(engineer_client, body="Dear {{ customer.name }}, we are on it.")


def call(client, method, path, payload, incident_id):
    url = URL + path.format(id=incident_id)
    if payload is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, payload, format="json")


def test_anonymous_callers_are_asked_to_sign_in(anon_client, outage):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.get(f"{URL}{outage['id']}/").status_code == 401
    assert anon_client.post(URL, {}, format="json").status_code == 401
    for method, path, payload in STAFF_ONLY:
        assert call(anon_client, method, path, payload, outage["id"]).status_code == 401


def test_customers_may_not_declare_or_change_anything(customer_client, outage):
    response = customer_client.post(
        URL,
        {"kind": "outage", "title": "x", "scope": {"location": ["Moscow"]}, "body": "x"},
        format="json",
    )
    assert response.status_code == 403
    for method, path, payload in STAFF_ONLY:
        assert call(customer_client, method, path, payload, outage["id"]).status_code == 403, path
    assert Incident.objects.get(pk=outage["id"]).title == outage["title"]
    assert Incident.objects.get(pk=outage["id"]).status == "investigating"


def test_a_customer_reads_their_incident_with_public_fields_only(customer_client, outage):
    listed = customer_client.get(URL)
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert set(row) == set(PUBLIC_FIELDS)
    assert not set(row) & STAFF_ONLY_FIELDS
    detail = customer_client.get(f"{URL}{outage['id']}/").json()
    assert set(detail) == set(PUBLIC_FIELDS)
    assert not set(detail) & STAFF_ONLY_FIELDS
    assert set(detail["updates"][0]) == {"status", "body", "created_at"}
    assert "{{" not in detail["updates"][0]["body"]


def test_an_outsider_sees_nothing_and_gets_404(outsider_client, outage):
    assert outsider_client.get(URL).json()["results"] == []
    assert outsider_client.get(f"{URL}{outage['id']}/").status_code == 404


def test_a_customer_does_not_see_a_draft_affecting_them(customer_client, engineer_client, carol):
    draft = declare(engineer_client, status="draft")
    assert customer_client.get(URL).json()["results"] == []
    assert customer_client.get(f"{URL}{draft['id']}/").status_code == 404


def test_a_pending_engineer_is_refused(pending_engineer, outage):
    assert client_for(pending_engineer).get(URL).status_code in (401, 403)


def test_engineers_and_admins_see_every_field(engineer_client, admin_client_api, outage):
    for client in (engineer_client, admin_client_api):
        detail = client.get(f"{URL}{outage['id']}/").json()
        assert STAFF_ONLY_FIELDS | {"linked_tickets_count"} <= set(detail)
        assert detail["scope"]["last_mile_site"] == ["NODE-1"]


def test_an_unknown_incident_is_404_for_staff(engineer_client):
    assert engineer_client.get(f"{URL}999999/").status_code == 404
    assert (
        engineer_client.post(f"{URL}999999/updates/", {"body": "x"}, format="json").status_code
        == 404
    )


def test_the_customer_sees_update_text_rendered_for_them(customer_client, carol, outage):
    body = customer_client.get(f"{URL}{outage['id']}/").json()["updates"][0]["body"]
    assert body == f"Dear {carol.name}, we are on it."


def test_an_impossible_customer_id_in_a_scope_is_a_400(engineer_client, carol):
    response = engineer_client.post(
        URL,
        {"kind": "outage", "title": "x", "scope": {"customer_ids": [2**70]}, "body": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "customer_ids" in response.json()["scope"]


@pytest.fixture
def draft(engineer_client, carol):
    return declare(engineer_client, status="draft", title="Alarm: link down")


def test_staff_delete_a_draft_and_it_is_on_the_audit_log(engineer_client, engineer, draft):
    from django.contrib.admin.models import DELETION, LogEntry

    response = engineer_client.delete(f"{URL}{draft['id']}/")
    assert response.status_code == 204
    assert not Incident.objects.filter(pk=draft["id"]).exists()
    assert engineer_client.get(f"{URL}{draft['id']}/").status_code == 404
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.user_id == engineer.pk
    assert draft["number"] in entry.change_message


def test_an_announced_incident_is_not_deleted(engineer_client, outage):
    response = engineer_client.delete(f"{URL}{outage['id']}/")
    assert response.status_code == 409
    assert "not a draft" in response.json()["detail"]
    assert Incident.objects.get(pk=outage["id"]).status == "investigating"
    assert Incident.objects.get(pk=outage["id"]).updates.count() == 1


def test_customers_and_strangers_may_not_delete(
    anon_client, customer_client, outsider_client, draft, outage
):
    assert anon_client.delete(f"{URL}{draft['id']}/").status_code == 401
    assert customer_client.delete(f"{URL}{draft['id']}/").status_code == 403
    assert customer_client.delete(f"{URL}{outage['id']}/").status_code == 403
    assert outsider_client.delete(f"{URL}{draft['id']}/").status_code == 403
    assert Incident.objects.filter(pk__in=[draft["id"], outage["id"]]).count() == 2
