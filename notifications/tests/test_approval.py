"""Big sends need two people: a general or marketing notification to every
active customer, or to more than LARGE_SEND_THRESHOLD, waits until another
staff member approves it. Also: "everyone" is explicit."""

import pytest

from conftest import client_for
from delivery.models import Message
from notifications.models import Notification

pytestmark = pytest.mark.django_db

URL = "/api/notifications/"


def create(client, **fields) -> dict:
    payload = {"title": "News", "body": "Hello {{ customer.name }}", "kind": "general"}
    payload.update(fields)
    response = client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def customers(make_customer):
    return [make_customer(location="Moscow") for _ in range(3)]


def test_an_empty_audience_is_refused_with_a_reason(engineer_client, customers):
    response = engineer_client.post(
        URL, {"title": "News", "body": "x", "audience": {}}, format="json"
    )
    assert response.status_code == 400
    assert '{"all": true}' in str(response.json()["audience"])
    draft = create(engineer_client)  # no audience given at all: a draft may wait for one
    refused = engineer_client.post(f"{URL}{draft['id']}/send/")
    assert refused.status_code == 400 and '{"all": true}' in str(refused.json())
    assert Notification.objects.get(pk=draft["id"]).status == "draft"
    assert not Message.objects.exists()


def test_a_send_to_everyone_waits_for_a_second_person(
    engineer, other_engineer, engineer_client, customers
):
    body = create(engineer_client, audience={"all": True})
    assert body["audience"]["all"] is True
    held = engineer_client.post(f"{URL}{body['id']}/send/")
    assert held.status_code == 202
    assert held.json() == {"notification": body["id"], "queued": 3, "status": "awaiting_approval"}
    assert not Message.objects.exists()
    listed = engineer_client.get(f"{URL}?status=awaiting_approval").json()
    assert [n["id"] for n in listed["results"]] == [body["id"]]

    own = engineer_client.post(f"{URL}{body['id']}/approve/")
    assert own.status_code == 403
    assert (
        own.json()["code"] == "own_notification" and "another staff member" in own.json()["detail"]
    )
    assert Notification.objects.get(pk=body["id"]).status == "awaiting_approval"

    approved = client_for(other_engineer).post(f"{URL}{body['id']}/approve/")
    assert approved.status_code == 202 and approved.json()["status"] == "sending"
    notification = Notification.objects.get(pk=body["id"])
    assert notification.approved_by == other_engineer and notification.approved_at
    assert Message.objects.filter(notification=notification).count() == 3
    again = client_for(other_engineer).post(f"{URL}{body['id']}/approve/")
    assert again.status_code == 409


def test_a_large_audience_is_held_and_a_small_one_is_not(engineer_client, customers, settings):
    settings.LARGE_SEND_THRESHOLD = 2
    large = create(engineer_client, audience={"location": ["Moscow"]})
    assert engineer_client.post(f"{URL}{large['id']}/send/").json()["status"] == "awaiting_approval"
    small = create(engineer_client, audience={"customer_ids": [customers[0].pk]})
    assert engineer_client.post(f"{URL}{small['id']}/send/").json()["status"] == "sending"


@pytest.mark.parametrize("kind", ["outage", "maintenance", "rca"])
def test_outage_maintenance_and_rca_notices_are_never_held(engineer_client, customers, kind):
    body = create(engineer_client, kind=kind, audience={"all": True})
    assert engineer_client.post(f"{URL}{body['id']}/send/").json()["status"] == "sending"


def test_marketing_to_everyone_is_held_too(engineer_client, customers):
    body = create(engineer_client, category="marketing", audience={"all": True})
    assert engineer_client.post(f"{URL}{body['id']}/send/").json()["status"] == "awaiting_approval"


def test_who_may_approve(engineer_client, customer_user, admin_client_api, anon_client, customers):
    body = create(engineer_client, audience={"all": True})
    engineer_client.post(f"{URL}{body['id']}/send/")
    assert anon_client.post(f"{URL}{body['id']}/approve/").status_code == 401
    assert client_for(customer_user).post(f"{URL}{body['id']}/approve/").status_code == 403
    assert Notification.objects.get(pk=body["id"]).status == "awaiting_approval"
    assert admin_client_api.post(f"{URL}{body['id']}/approve/").status_code == 202


def test_an_approved_scheduled_send_edited_needs_approval_again(
    engineer_client, other_engineer, customers
):
    body = create(engineer_client, audience={"all": True}, start_at="2036-01-01T09:00:00Z")
    engineer_client.post(f"{URL}{body['id']}/send/")
    approved = client_for(other_engineer).post(f"{URL}{body['id']}/approve/")
    assert approved.json()["status"] == "scheduled"
    engineer_client.patch(f"{URL}{body['id']}/", {"body": "Changed words"}, format="json")
    notification = Notification.objects.get(pk=body["id"])
    assert notification.status == "awaiting_approval" and notification.approved_by is None


def test_category_and_fallback_are_fields_with_a_filter(engineer_client):
    marketing = create(engineer_client, category="marketing", audience={"all": True})
    service = create(
        engineer_client, audience={"all": True}, channels=["email"], fallback_channel="sms"
    )
    assert service["category"] == "service" and service["fallback_channel"] == "sms"
    assert marketing["fallback_channel"] is None
    found = engineer_client.get(f"{URL}?category=marketing").json()["results"]
    assert [n["id"] for n in found] == [marketing["id"]]
    bad = engineer_client.post(
        URL,
        {"title": "x", "body": "y", "category": "spam", "fallback_channel": "fax"},
        format="json",
    )
    assert bad.status_code == 400 and {"category", "fallback_channel"} <= set(bad.json())
