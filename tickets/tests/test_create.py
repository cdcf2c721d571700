"""Raising a ticket: by the customer for themselves, by staff for a customer."""

import pytest
from django.db import connection

from conftest import client_for
from delivery.models import Message
from tickets.models import Ticket
from tickets.tests.conftest import open_ticket


@pytest.mark.django_db
class TestCreate:
    def test_a_customer_raises_a_ticket_with_a_service_type_code(
        self, customer_user, engineer, fiber
    ):
        response = client_for(customer_user).post(
            "/api/tickets/",
            {"title": "No signal", "description": "TV", "service_type": "fiber"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["service_type"] == fiber.pk
        assert body["customer"] == customer_user.customer.pk
        assert body["created_by"] == customer_user.pk
        assert body["status"] == "assigned"
        assert body["assignee"] == engineer.pk

    def test_a_service_type_may_be_given_by_id(self, customer_user, fiber):
        response = client_for(customer_user).post(
            "/api/tickets/", {"title": "x", "service_type": fiber.pk}
        )
        assert response.json()["service_type"] == fiber.pk

    def test_it_names_an_unknown_service_type(self, customer_user):
        response = client_for(customer_user).post(
            "/api/tickets/", {"title": "x", "service_type": "satellite"}
        )
        assert response.status_code == 400
        assert "satellite" in response.json()["service_type"][0]
        assert not Ticket.objects.exists()

    @pytest.mark.parametrize(
        "body,field",
        [
            ({}, "title"),
            ({"title": ""}, "title"),
            ({"title": "x" * 201}, "title"),
            ({"title": "x", "priority": "urgent"}, "priority"),
        ],
    )
    def test_it_rejects_bad_input_and_stores_nothing(self, customer_user, body, field):
        response = client_for(customer_user).post("/api/tickets/", body)
        assert response.status_code == 400
        assert field in response.json()
        assert not Ticket.objects.exists()

    def test_staff_raise_a_ticket_for_a_customer(self, engineer, customer_user):
        response = client_for(engineer).post(
            "/api/tickets/", {"title": "Called in", "customer": customer_user.customer.pk}
        )
        assert response.status_code == 201
        assert response.json()["created_by"] == engineer.pk
        assert response.json()["customer"] == customer_user.customer.pk

    def test_staff_must_name_the_customer(self, admin_user):
        response = client_for(admin_user).post("/api/tickets/", {"title": "Called in"})
        assert response.status_code == 400
        assert "customer" in response.json()

    def test_staff_get_400_for_an_unknown_customer(self, admin_user):
        response = client_for(admin_user).post(
            "/api/tickets/", {"title": "Called in", "customer": 999999}
        )
        assert response.status_code == 400
        assert "999999" in response.json()["customer"][0]

    def test_a_customer_account_without_a_record_is_told_so(self, customer_user):
        customer_user.customer.delete()
        response = client_for(customer_user).post("/api/tickets/", {"title": "x"})
        assert response.status_code == 403
        assert "not linked" in response.json()["detail"]
        assert client_for(customer_user).get("/api/tickets/").json()["count"] == 0


@pytest.mark.django_db
def test_raising_an_assigned_ticket_takes_a_fixed_number_of_queries(
    customer_user, engineer, other_engineer, django_assert_num_queries
):
    """A guard on the cost of the busiest write: the savepoint, the
    assignment lock (PostgreSQL), choosing and stamping the engineer, the
    ticket, its two events, their field changes, both emails, the release,
    and the look for an active outage affecting the customer (a scope still
    being frozen is read within that same look)."""
    open_ticket(customer_user)
    expected = 9 if connection.vendor == "postgresql" else 8
    with django_assert_num_queries(expected):
        ticket = open_ticket(customer_user)
    assert ticket.assignee == other_engineer
    assert list(ticket.events.values_list("kind", flat=True)) == ["created", "assigned"]
    assert Message.objects.filter(subject__startswith=f"[{ticket.number}]").count() == 2
