import pytest
from django.utils import timezone

from customers.models import Customer
from delivery.models import Message
from notifications.models import Notification
from tickets.models import Ticket


@pytest.mark.django_db
class TestDashboard:
    def test_it_shows_sending_scheduled_delivery_and_tickets(
        self, web_client, engineer, customer_user
    ):
        customer = Customer.objects.get(user=customer_user)
        sending = Notification.objects.create(
            title="Fibre cut",
            body="x",
            channels=["email", "sms"],
            status="sending",
            started_at=timezone.now(),
        )
        last_week = Notification.objects.create(
            title="Last week",
            body="x",
            channels=["sms"],
            status="completed",
            started_at=timezone.now() - timezone.timedelta(days=7),
        )
        Message.objects.create(
            notification=last_week, customer=customer, channel="sms", status="sent"
        )
        Notification.objects.create(
            title="Night works",
            body="x",
            channels=["email"],
            status="scheduled",
            start_at=timezone.now() + timezone.timedelta(days=1),
        )
        Message.objects.create(
            notification=sending, customer=customer, channel="email", status="sent"
        )
        Message.objects.create(notification=sending, channel="sms", status="failed")
        Ticket.objects.create(
            title="Slow",
            customer=customer,
            assignee=engineer,
            status="assigned",
            due_at=timezone.now() - timezone.timedelta(hours=1),
        )
        page = web_client(engineer).get("/").content.decode()
        assert "Fibre cut" in page and "100%" in page and "Last week" not in page
        assert "Night works" in page
        assert '<span class="stat">2</span> messages' in page
        assert "overdue" in page
        partial = web_client(engineer).get("/dashboard/sending/").content.decode()
        assert 'hx-trigger="every 2s"' in partial

    def test_nothing_sending_stops_polling(self, web_client, engineer):
        partial = web_client(engineer).get("/dashboard/sending/").content.decode()
        assert "every 2s" not in partial
        assert "Nothing is being sent" in partial


@pytest.mark.django_db
class TestAvailability:
    def test_an_engineer_pauses_and_resumes_new_tickets(self, web_client, engineer):
        client = web_client(engineer)
        assert "Pause new tickets" in client.get("/").content.decode()
        client.post("/me/availability/", {"is_available": "false"})
        engineer.refresh_from_db()
        assert not engineer.is_available
        assert "Take new tickets again" in client.get("/").content.decode()
        client.post("/me/availability/", {"is_available": "true"})
        engineer.refresh_from_db()
        assert engineer.is_available

    def test_an_admin_has_no_availability(self, web_client, admin_user):
        assert (
            web_client(admin_user).post("/me/availability/", {"is_available": "false"}).status_code
            == 403
        )


@pytest.mark.django_db
class TestPortalProfile:
    def test_a_customer_changes_contact_details_and_opt_ins(self, web_client, customer_user):
        client = web_client(customer_user)
        page = client.get("/portal/profile/")
        assert page.status_code == 200
        response = client.post(
            "/portal/profile/",
            {
                "email": "carol.new@example.com",
                "phone": "79001234567",
                "timezone": "Europe/Moscow",
                "contact_window_start": "09:00",
                "contact_window_end": "21:00",
                "email_opt_in": "on",
            },
        )
        assert response["Location"] == "/portal/profile/"
        customer = Customer.objects.get(user=customer_user)
        assert customer.phone == "+79001234567"
        assert customer.timezone == "Europe/Moscow"
        assert customer.email_opt_in and not customer.sms_opt_in

    def test_bad_values_are_explained_and_nothing_changes(self, web_client, customer_user):
        response = web_client(customer_user).post(
            "/portal/profile/",
            {
                "email": "carol_customer@example.com",
                "timezone": "Moon/Base",
                "contact_window_start": "09:00",
                "contact_window_end": "09:00",
            },
        )
        assert response.status_code == 400
        assert 'id="id_timezone_errors"' in response.content.decode()
        assert Customer.objects.get(user=customer_user).timezone == "UTC"

    def test_my_notifications_are_rendered_for_me(
        self, web_client, customer_user, other_customer_user
    ):
        me = Customer.objects.get(user=customer_user)
        other = Customer.objects.get(user=other_customer_user)
        n = Notification.objects.create(
            title="Works at {{ customer.location }}",
            body="Hello {{ customer.name }}",
            channels=["email"],
            status="completed",
        )
        Message.objects.create(
            notification=n, customer=me, channel="email", status="sent", sent_at=timezone.now()
        )
        Message.objects.create(
            notification=n, customer=other, channel="email", status="sent", sent_at=timezone.now()
        )
        page = web_client(customer_user).get("/portal/notifications/").content.decode()
        assert f"Hello {me.name}" in page
        assert f"Hello {other.name}" not in page
