"""What a customer reaches from their own side: links in ticket emails that
open for them, the service catalogue, and their own interactions only."""

import pytest
from django.test import Client

from delivery.models import Message
from tickets import services
from tickets.models import Interaction
from tickets.tests.conftest import open_ticket


@pytest.mark.django_db
class TestTicketEmailLinks:
    def test_the_customer_gets_the_portal_page_and_the_engineer_the_staff_page(
        self, customer_user, engineer, settings
    ):
        settings.PUBLIC_BASE_URL = "https://proactive.example.net"
        ticket = open_ticket(customer_user)
        assert ticket.assignee == engineer
        customer_copy = Message.objects.get(to_address=customer_user.customer.email)
        engineer_copy = Message.objects.get(to_address=engineer.email)
        portal = f"https://proactive.example.net/portal/tickets/{ticket.pk}/"
        staff = f"https://proactive.example.net/tickets/{ticket.pk}/"
        assert portal in customer_copy.body
        assert staff not in customer_copy.body.replace(portal, "")
        assert staff in engineer_copy.body
        assert "/portal/" not in engineer_copy.body

    def test_the_customers_link_opens_for_them(self, customer_user, settings):
        settings.PUBLIC_BASE_URL = "http://testserver"
        ticket = open_ticket(customer_user)
        body = Message.objects.get(to_address=customer_user.customer.email).body
        link = next(line for line in body.splitlines() if line.startswith("http://testserver/"))
        client = Client()
        client.force_login(customer_user)
        page = client.get(link.removeprefix("http://testserver"))
        assert page.status_code == 200
        assert ticket.number in page.content.decode()


@pytest.mark.django_db
class TestServiceTypes:
    def test_a_customer_lists_and_reads_them(self, customer_client, fiber):
        listing = customer_client.get("/api/service-types/")
        assert listing.status_code == 200
        assert [row["code"] for row in listing.json()["results"]] == ["fiber"]
        one = customer_client.get(f"/api/service-types/{fiber.pk}/")
        assert one.status_code == 200
        assert one.json()["name"] == "Fiber internet"

    def test_a_customer_changes_nothing(self, customer_client, fiber):
        assert (
            customer_client.post("/api/service-types/", {"code": "x", "name": "X"}).status_code
            == 403
        )
        assert (
            customer_client.patch(f"/api/service-types/{fiber.pk}/", {"name": "Y"}).status_code
            == 403
        )
        assert customer_client.delete(f"/api/service-types/{fiber.pk}/").status_code == 403
        fiber.refresh_from_db()
        assert fiber.name == "Fiber internet"

    def test_anonymous_visitors_still_cannot(self, anon_client, fiber):
        assert anon_client.get("/api/service-types/").status_code == 401


@pytest.fixture
def interactions(customer_user, other_customer_user, engineer):
    mine = services.interaction_create(
        actor=engineer, customer=customer_user.customer, kind="call", duration_seconds=60
    )
    theirs = services.interaction_create(
        actor=engineer, customer=other_customer_user.customer, kind="visit", duration_seconds=9
    )
    return mine, theirs


@pytest.mark.django_db
class TestInteractions:
    def test_a_customer_reads_only_their_own(self, customer_client, interactions):
        mine, theirs = interactions
        listing = customer_client.get("/api/interactions/")
        assert listing.status_code == 200
        assert [row["id"] for row in listing.json()["results"]] == [mine.pk]
        assert customer_client.get(f"/api/interactions/{mine.pk}/").status_code == 200
        assert customer_client.get(f"/api/interactions/{theirs.pk}/").status_code == 404
        filtered = customer_client.get(f"/api/interactions/?customer={theirs.customer_id}")
        assert filtered.json()["results"] == []

    def test_a_customer_never_writes_nor_reads_the_staff_summaries(
        self, customer_client, customer_user, interactions
    ):
        response = customer_client.post(
            "/api/interactions/",
            {"customer": customer_user.customer.pk, "kind": "call", "duration_seconds": 5},
        )
        assert response.status_code == 403
        assert Interaction.objects.count() == 2
        assert customer_client.get("/api/interactions/recent/").status_code == 403
        assert customer_client.get("/api/interactions/stats/").status_code == 403

    def test_staff_still_see_everyone(self, engineer_client, interactions):
        listing = engineer_client.get("/api/interactions/")
        assert listing.json()["count"] == 2
