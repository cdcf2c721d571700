"""What customers and engineers notice about a ticket: plain words in the
portal and in emails, files with a new ticket, replies that reopen, the two
kinds of staff message, and notifications listed once."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import client_for
from customers.models import Customer
from delivery.models import Message
from notifications.models import Notification
from tickets import services
from tickets.models import Attachment, Comment, Status, Ticket
from tickets.tests.conftest import PNG


@pytest.fixture(autouse=True)
def attachments_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def raised(web_client, customer_user, engineer):
    """Carol raises a ticket in the portal; it goes to Eric, the only engineer."""
    web_client(customer_user).post(
        "/portal/tickets/new/",
        {"title": "No internet", "description": "Since 9:00", "priority": "medium"},
    )
    return Ticket.objects.get()


def _resolved(ticket, engineer, *, days_ago: float = 0):
    services.ticket_accept(ticket=ticket, actor=engineer)
    services.ticket_resolve(ticket=ticket, actor=engineer, resolution="Replaced the ONT")
    Ticket.objects.filter(pk=ticket.pk).update(
        resolved_at=timezone.now() - timedelta(days=days_ago)
    )
    ticket.refresh_from_db()
    return ticket


@pytest.mark.django_db
class TestPlainWords:
    def test_it_tells_the_customer_who_works_on_their_request(
        self, web_client, customer_user, engineer, raised
    ):
        services.ticket_accept(ticket=raised, actor=engineer)
        client = web_client(customer_user)
        timeline = client.get(f"/portal/tickets/{raised.pk}/timeline/").content.decode()
        assert "Eric will look after your request." in timeline
        assert "Your request is being worked on by Eric." in timeline
        assert "in_progress" not in timeline and "assigned →" not in timeline
        assert "status:" not in timeline and "assignee:" not in timeline
        page = client.get(f"/portal/tickets/{raised.pk}/").content.decode()
        assert "Your request is being worked on by Eric." in page

    def test_the_customer_email_says_it_in_words_too(self, raised, engineer):
        services.ticket_accept(ticket=raised, actor=engineer)
        email = Message.objects.filter(to_address="carol_customer@example.com").latest("id")
        assert email.subject == f"[{raised.number}] Your request is being worked on by Eric"
        assert "in_progress" not in email.body
        assert f"/portal/tickets/{raised.pk}/" in email.body

    def test_the_resolution_is_shown_to_the_customer_under_its_sentence(
        self, web_client, customer_user, engineer, raised
    ):
        _resolved(raised, engineer)
        page = web_client(customer_user).get(f"/portal/tickets/{raised.pk}/").content.decode()
        assert "Eric resolved your request." in page
        assert "Replaced the ONT" in page

    def test_staff_still_see_the_field_changes(self, web_client, engineer, raised):
        page = web_client(engineer).get(f"/tickets/{raised.pk}/").content.decode()
        assert "Assigned to Eric." in page
        assert "status: open → assigned" in page


@pytest.mark.django_db
class TestAttachmentsAtCreation:
    def test_a_customer_raises_a_ticket_with_files_through_the_api(self, customer_client, engineer):
        response = customer_client.post(
            "/api/tickets/",
            {
                "title": "Router lights",
                "attachments": [
                    SimpleUploadedFile("lights.png", PNG),
                    SimpleUploadedFile("log.txt", b"link down\n"),
                ],
            },
            format="multipart",
        )
        assert response.status_code == 201, response.content
        ticket = Ticket.objects.get(pk=response.json()["id"])
        assert sorted(ticket.attachments.values_list("original_name", flat=True)) == [
            "lights.png",
            "log.txt",
        ]
        listed = customer_client.get(f"/api/tickets/{ticket.pk}/attachments/").json()
        assert listed["count"] == 2

    def test_one_bad_file_refuses_the_whole_ticket_and_stores_nothing(
        self, customer_client, engineer, attachments_in_tmp
    ):
        response = customer_client.post(
            "/api/tickets/",
            {
                "title": "Router lights",
                "attachments": [
                    SimpleUploadedFile("lights.png", PNG),
                    SimpleUploadedFile("setup.exe", b"MZ\x90\x00\x03binary"),
                ],
            },
            format="multipart",
        )
        assert response.status_code == 400
        assert response.json()["attachments"][0].startswith("setup.exe: ")
        assert not Ticket.objects.exists()
        assert not Attachment.objects.exists()
        assert not any(p.is_file() for p in attachments_in_tmp.rglob("*"))

    def test_the_portal_form_takes_files(self, web_client, customer_user, engineer):
        response = web_client(customer_user).post(
            "/portal/tickets/new/",
            {
                "title": "Modem",
                "priority": "medium",
                "attachments": [SimpleUploadedFile("modem.txt", b"red light\n")],
            },
        )
        ticket = Ticket.objects.get()
        assert response["Location"] == f"/portal/tickets/{ticket.pk}/"
        assert ticket.attachments.get().original_name == "modem.txt"
        page = web_client(customer_user).get(f"/portal/tickets/{ticket.pk}/").content.decode()
        assert "You attached modem.txt." in page

    def test_the_portal_form_shows_why_a_file_is_refused(self, web_client, customer_user, engineer):
        response = web_client(customer_user).post(
            "/portal/tickets/new/",
            {
                "title": "Modem",
                "priority": "medium",
                "attachments": [SimpleUploadedFile("a.png", b"MZ\x90\x00binary")],
            },
            follow=True,
        )
        assert "a.png: The file contains" in response.content.decode()
        assert not Ticket.objects.exists()


@pytest.mark.django_db
class TestReplyToAFinishedTicket:
    def test_a_reply_soon_after_resolution_reopens_the_ticket(
        self, web_client, customer_user, engineer, raised
    ):
        _resolved(raised, engineer, days_ago=3)
        response = web_client(customer_user).post(
            f"/portal/tickets/{raised.pk}/comment/", {"body": "Down again"}, follow=True
        )
        raised.refresh_from_db()
        assert raised.status == Status.IN_PROGRESS
        assert raised.assignee == engineer and raised.resolved_at is None
        assert "the ticket is reopened" in response.content.decode()
        assert "Your request was reopened." in response.content.decode()
        assert Comment.objects.get().ticket == raised
        assert Message.objects.filter(
            to_address="eric_engineer@example.com", body__contains="Down again"
        ).exists()

    def test_a_late_reply_opens_a_new_ticket_that_follows_the_old_one(
        self, customer_client, engineer, raised, monkeypatch
    ):
        monkeypatch.setenv("TICKET_REOPEN_DAYS", "7")
        _resolved(raised, engineer, days_ago=8)
        response = customer_client.post(
            f"/api/tickets/{raised.pk}/comments/", {"body": "Down again"}
        )
        assert response.status_code == 201
        follow_up = Ticket.objects.get(follows=raised)
        assert response.json()["ticket"] == follow_up.pk
        shown = customer_client.get(f"/api/tickets/{follow_up.pk}/").json()
        assert shown["follows"] == raised.pk
        assert customer_client.get(f"/api/tickets/{raised.pk}/").json()["follows"] is None
        assert follow_up.title == f"Follow-up to {raised.number}: No internet"
        assert follow_up.customer == raised.customer and follow_up.status == Status.ASSIGNED
        raised.refresh_from_db()
        assert raised.status == Status.RESOLVED

    def test_a_reply_in_the_portal_to_a_closed_ticket_is_refused_with_a_way_forward(
        self, web_client, customer_user, engineer, raised
    ):
        _resolved(raised, engineer)
        services.ticket_status_change(ticket=raised, actor=engineer, status="closed")
        client = web_client(customer_user)
        response = client.post(f"/portal/tickets/{raised.pk}/comment/", {"body": "Down again"})
        assert response["Location"] == f"/portal/tickets/{raised.pk}/"
        page = client.get(response["Location"]).content.decode()
        assert "raise a new ticket instead" in page
        assert not Ticket.objects.filter(follows=raised).exists()
        assert not raised.comments.filter(body="Down again").exists()

    def test_staff_comments_on_a_resolved_ticket_do_not_reopen_it(self, raised, engineer):
        _resolved(raised, engineer)
        services.comment_create(ticket=raised, author=engineer, body="FYI")
        raised.refresh_from_db()
        assert raised.status == Status.RESOLVED
        assert not Ticket.objects.filter(follows=raised).exists()


@pytest.mark.django_db
class TestStaffComposer:
    def test_the_reply_and_the_internal_note_are_two_different_tabs(
        self, web_client, engineer, raised
    ):
        page = web_client(engineer).get(f"/tickets/{raised.pk}/").content.decode()
        assert ">Reply to customer</label>" in page and ">Internal note</label>" in page
        assert 'class="composer-reply"' in page and 'class="composer-note"' in page
        assert "Send to customer" in page and "Save internal note" in page

    def test_the_note_tab_saves_an_internal_note(self, web_client, engineer, raised):
        response = web_client(engineer).post(
            f"/tickets/{raised.pk}/comment/", {"body": "Cable cut", "internal": "on"}, follow=True
        )
        assert Comment.objects.get().internal is True
        assert "the customer does not see it" in response.content.decode()

    def test_the_customer_sees_no_composer_tabs(self, web_client, customer_user, raised):
        page = web_client(customer_user).get(f"/portal/tickets/{raised.pk}/").content.decode()
        assert "Internal note" not in page

    def test_the_resolution_says_it_is_sent_to_the_customer(self, web_client, engineer, raised):
        services.ticket_accept(ticket=raised, actor=engineer)
        page = web_client(engineer).get(f"/tickets/{raised.pk}/").content.decode()
        assert "Resolution — sent to the customer" in page
        assert "Resolve and send to the customer" in page


@pytest.mark.django_db
def test_a_notification_sent_by_email_and_sms_is_listed_once(web_client, customer_user):
    me = Customer.objects.get(user=customer_user)
    notice = Notification.objects.create(
        title="Works tonight", body="Hello", channels=["email", "sms"], status="completed"
    )
    for channel in ("email", "sms"):
        Message.objects.create(
            notification=notice, customer=me, channel=channel, status="sent", sent_at=timezone.now()
        )
    page = web_client(customer_user).get("/portal/notifications/").content.decode()
    assert page.count("<h2>Works tonight</h2>") == 1
    assert "by SMS and email" in page or "by email and SMS" in page


@pytest.mark.django_db
def test_an_outsider_cannot_reply_to_reopen_someone_elses_ticket(
    other_customer_user, raised, engineer
):
    _resolved(raised, engineer)
    response = client_for(other_customer_user).post(
        f"/api/tickets/{raised.pk}/comments/", {"body": "hi"}
    )
    assert response.status_code == 404
    raised.refresh_from_db()
    assert raised.status == Status.RESOLVED and not Comment.objects.exists()
