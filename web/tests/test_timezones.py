"""Times on the website in the viewer's own zone: an engineer's or admin's
setting, a customer's record's; the API keeps UTC."""

import datetime

import pytest
from django.utils import timezone

from customers.models import Customer, Site
from notifications.models import Notification
from tickets.models import Ticket

TEN_UTC = datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def ticket_at_ten(web_client, customer_user, engineer):
    """Carol's ticket, opened at 10:00 UTC and assigned to Eric."""
    web_client(customer_user).post(
        "/portal/tickets/new/", {"title": "No internet", "priority": "high"}
    )
    ticket = Ticket.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(created_at=TEN_UTC)
    ticket.events.update(created_at=TEN_UTC)
    return ticket


def _in_zone(user, name: str):
    user.timezone = name
    user.save(update_fields=["timezone"])
    return user


@pytest.mark.django_db
class TestTimesShown:
    def test_an_engineer_in_yekaterinburg_sees_ten_utc_as_fifteen(
        self, web_client, engineer, ticket_at_ten
    ):
        client = web_client(_in_zone(engineer, "Asia/Yekaterinburg"))
        page = client.get(f"/tickets/{ticket_at_ten.pk}/").content.decode()
        assert "<dt>Opened</dt><dd>2026-11-26 15:00 +05</dd>" in page
        assert "Times in Asia/Yekaterinburg" in page
        timeline = client.get(f"/tickets/{ticket_at_ten.pk}/timeline/").content.decode()
        assert "2026-11-26 15:00 +05 ·" in timeline
        assert "10:00" not in timeline

    def test_an_engineer_who_chose_no_zone_reads_utc(self, web_client, engineer, ticket_at_ten):
        page = web_client(engineer).get(f"/tickets/{ticket_at_ten.pk}/").content.decode()
        assert "<dt>Opened</dt><dd>2026-11-26 10:00 UTC</dd>" in page

    def test_a_customer_reads_times_in_their_records_zone(
        self, web_client, customer_user, ticket_at_ten
    ):
        Customer.objects.filter(user=customer_user).update(timezone="Europe/Moscow")
        client = web_client(customer_user)
        listing = client.get("/portal/tickets/").content.decode()
        assert '<td data-label="Opened">2026-11-26 13:00 MSK</td>' in listing
        page = client.get(f"/portal/tickets/{ticket_at_ten.pk}/").content.decode()
        assert "<dt>Opened</dt><dd>2026-11-26 13:00 MSK</dd>" in page
        assert "Times in Europe/Moscow" in page

    def test_the_zone_ends_with_the_request(self, web_client, engineer, ticket_at_ten):
        web_client(_in_zone(engineer, "Asia/Yekaterinburg")).get(f"/tickets/{ticket_at_ten.pk}/")
        assert timezone.get_current_timezone_name() == "UTC"

    def test_the_api_keeps_answering_in_utc(self, web_client, engineer):
        client = web_client(_in_zone(engineer, "Asia/Yekaterinburg"))
        joined = client.get("/api/me/").json()["date_joined"]
        assert joined.endswith("Z")

    def test_a_start_time_is_read_in_the_engineers_zone(self, web_client, engineer):
        Site.objects.create(code="POP-N", name="North POP", path="POP-N", depth=0)
        client = web_client(_in_zone(engineer, "Asia/Yekaterinburg"))
        form = client.get("/notifications/new/").content.decode()
        assert "Start (Asia/Yekaterinburg)" in form
        client.post(
            "/notifications/new/",
            {
                "kind": "outage",
                "title": "Outage",
                "body": "We are fixing it.",
                "channels": ["email"],
                "last_mile_site": ["POP-N"],
                "start_at": "2099-01-01T15:00",
                "action": "save",
            },
        )
        notification = Notification.objects.get()
        assert notification.start_at == datetime.datetime(2099, 1, 1, 10, 0, tzinfo=datetime.UTC)
        detail = client.get(f"/notifications/{notification.pk}/").content.decode()
        assert "2099-01-01 15:00 +05" in detail


@pytest.mark.django_db
class TestMySettings:
    def test_an_engineer_chooses_their_zone(self, web_client, engineer):
        client = web_client(engineer)
        assert 'value="UTC"' in client.get("/me/settings/").content.decode()
        response = client.post("/me/settings/", {"timezone": "Asia/Yekaterinburg"}, follow=True)
        assert "times are shown in Asia/Yekaterinburg" in response.content.decode()
        engineer.refresh_from_db()
        assert engineer.timezone == "Asia/Yekaterinburg"

    def test_an_unknown_zone_is_a_form_error_and_nothing_is_saved(self, web_client, admin_user):
        response = web_client(admin_user).post("/me/settings/", {"timezone": "Mars/Olympus"})
        assert response.status_code == 400
        body = response.content.decode()
        assert 'id="id_timezone_errors"' in body
        assert "is not a known time zone" in body
        admin_user.refresh_from_db()
        assert admin_user.timezone == "UTC"

    def test_customers_set_their_zone_in_their_details_instead(self, web_client, customer_user):
        assert web_client(customer_user).get("/me/settings/").status_code == 403


def test_an_audit_trail_timestamp_is_shown_in_the_viewers_zone():
    from web.templatetags.web_tags import change_value

    with timezone.override("Asia/Yekaterinburg"):
        assert change_value("2026-11-26T10:00:00+00:00") == "2026-11-26 15:00 +05"
    assert change_value("2026-11-26T10:00:00+00:00") == "2026-11-26 10:00 UTC"
    assert change_value("high") == "high"
