"""Rules that live in one service, so the API, the website and the admin give
the same answer: who a new ticket is for, who may set an engineer's
availability, and the rules of a notification's end."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from accounts.models import Role, User
from accounts.services import engineer_availability_set
from conftest import client_for, make_user
from notifications.models import Notification
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


class TestWhoATicketIsFor:
    def test_a_customer_without_a_record_is_told_the_same_by_api_and_portal(self, web_client):
        orphan = make_user("olga_orphan", Role.CUSTOMER)
        api = client_for(orphan).post("/api/tickets/", {"title": "No internet"}, format="json")
        portal = web_client(orphan).post("/portal/tickets/new/", {"title": "No internet"})
        assert api.status_code == 403
        assert api.json()["detail"] == services.NO_CUSTOMER_RECORD
        assert services.NO_CUSTOMER_RECORD in _messages(portal)
        assert not Ticket.objects.exists()

    def test_a_customer_cannot_open_a_ticket_for_another_customer(
        self, customer_user, other_customer_user
    ):
        other = other_customer_user.customer
        api = client_for(customer_user).post(
            "/api/tickets/", {"title": "Not mine", "customer": other.pk}, format="json"
        )
        assert api.status_code == 403
        assert api.json()["detail"] == "Customers may open tickets only for themselves."
        with pytest.raises(PermissionDenied, match="only for themselves"):
            services.ticket_create(actor=customer_user, customer=other, title="Not mine")
        assert not Ticket.objects.exists()

    def test_the_portal_names_the_engineer_from_the_ticket_it_gets_back(
        self, web_client, customer_user, engineer, other_engineer
    ):
        User.objects.filter(pk=other_engineer.pk).update(is_available=False)
        User.objects.filter(pk=engineer.pk).update(first_name="Eric", last_name="Stone")
        response = web_client(customer_user).post(
            "/portal/tickets/new/", {"title": "No internet", "priority": "medium"}, follow=True
        )
        ticket = Ticket.objects.get()
        assert ticket.assignee_id == engineer.pk
        assert f"Ticket {ticket.number} is raised and assigned to Eric Stone." in _messages(
            response
        )


class TestWhoSetsAvailability:
    def test_an_engineer_cannot_set_another_engineers_availability(self, engineer, other_engineer):
        api = client_for(engineer).patch(
            f"/api/engineers/{other_engineer.pk}/", {"is_available": False}, format="json"
        )
        assert api.status_code == 403
        assert api.json()["detail"] == "Engineers may change only their own availability."
        with pytest.raises(PermissionDenied, match="only their own availability"):
            engineer_availability_set(actor=engineer, engineer=other_engineer, available=False)
        other_engineer.refresh_from_db()
        assert other_engineer.is_available

    def test_an_engineer_cannot_change_their_own_limit(self, engineer):
        api = client_for(engineer).patch(
            f"/api/engineers/{engineer.pk}/", {"max_open_tickets": 99}, format="json"
        )
        assert api.status_code == 403
        assert api.json()["detail"] == "Only administrators may change the load limit."
        engineer.refresh_from_db()
        assert engineer.max_open_tickets != 99

    def test_only_engineers_take_tickets_on_the_website_and_in_the_service(
        self, web_client, admin_user
    ):
        page = web_client(admin_user).post("/me/availability/", {"is_available": "false"})
        assert page.status_code == 403
        with pytest.raises(PermissionDenied, match="Only engineers take tickets."):
            engineer_availability_set(actor=admin_user, engineer=admin_user, available=False)

    @pytest.mark.parametrize("through", ["api", "website"])
    def test_a_paused_engineer_gets_no_new_ticket_and_resuming_hands_them_the_waiting_one(
        self, web_client, engineer, customer_user, through, django_capture_on_commit_callbacks
    ):
        def set_available(available: bool) -> None:
            if through == "api":
                response = client_for(engineer).patch(
                    f"/api/engineers/{engineer.pk}/", {"is_available": available}, format="json"
                )
                assert response.status_code == 200
            else:
                response = web_client(engineer).post(
                    "/me/availability/", {"is_available": "true" if available else "false"}
                )
                assert response.status_code == 302

        set_available(False)
        ticket = services.ticket_create(
            actor=customer_user, customer=customer_user.customer, title="No internet"
        )
        assert ticket.assignee is None and ticket.status == "open"
        with django_capture_on_commit_callbacks(execute=True):
            set_available(True)
        ticket.refresh_from_db()
        assert ticket.assignee_id == engineer.pk and ticket.status == "assigned"


class TestTheEndOfANotification:
    def test_api_and_compose_page_refuse_an_end_in_the_past_with_one_sentence(
        self, web_client, engineer
    ):
        past = timezone.now() - datetime.timedelta(hours=1)
        api = client_for(engineer).post(
            "/api/notifications/",
            {"title": "Works", "body": "Tonight.", "end_at": past.isoformat()},
            format="json",
        )
        page = web_client(engineer).post(
            "/notifications/new/",
            {
                "kind": "general",
                "title": "Works",
                "body": "Tonight.",
                "channels": ["email"],
                "everyone": "on",
                "end_at": timezone.localtime(past).strftime("%Y-%m-%dT%H:%M"),
                "action": "draft",
            },
        )
        assert api.status_code == 400
        assert api.json()["end_at"] == ["end_at must be in the future."]
        assert page.status_code == 400
        assert "end_at must be in the future." in page.content.decode()
        assert not Notification.objects.exists()


def test_the_ticket_queue_filters_as_the_api_does(web_client, admin_user, customer_user):
    for priority in ("low", "high", "high"):
        services.ticket_create(
            actor=customer_user, customer=customer_user.customer, title="Slow", priority=priority
        )
    query = "priority=high&status=open,assigned&scope=all"
    page = web_client(admin_user).get(f"/tickets/?{query}")
    api = client_for(admin_user).get(f"/api/tickets/?{query}")
    shown = sorted(ticket.pk for ticket in page.context["page"].object_list)
    assert shown == sorted(row["id"] for row in api.json()["results"])
    assert len(shown) == 2
    refused = web_client(admin_user).get("/tickets/?priority=urgent")
    assert refused.status_code == 200
    assert "Unknown value urgent" in _messages(refused)


@pytest.mark.parametrize(
    "query",
    [
        "assignee=99999999999999999999",
        "assignee=x",
        "service_type=99999999999999999999",
        "created_after=someday&created_before=2026-13-40",
        "created_after=2026-13-40",
        "active=maybe&overdue=perhaps",
        "status=,,",
    ],
)
def test_the_ticket_queue_answers_any_query_without_failing(web_client, admin_user, query):
    page = web_client(admin_user).get(f"/tickets/?{query}")
    assert page.status_code == 200
