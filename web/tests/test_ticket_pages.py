import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tickets.models import Comment, Interaction, Status, Ticket


@pytest.fixture
def raised(web_client, customer_user, engineer):
    """Carol raises a ticket in the portal; it goes to Eric, the only engineer."""
    client = web_client(customer_user)
    response = client.post(
        "/portal/tickets/new/",
        {"title": "No internet", "description": "Since 9:00", "priority": "high"},
    )
    ticket = Ticket.objects.get()
    assert response["Location"] == f"/portal/tickets/{ticket.pk}/"
    return ticket


@pytest.fixture
def latecomer(raised, other_engineer):
    """An engineer who joined after the ticket was assigned to Eric."""
    return other_engineer


@pytest.mark.django_db
class TestPortalTickets:
    def test_a_raised_ticket_is_assigned_and_listed(
        self, web_client, customer_user, raised, engineer
    ):
        assert raised.assignee == engineer
        client = web_client(customer_user)
        page = client.get(f"/portal/tickets/{raised.pk}/").content.decode()
        assert 'data-testid="ticket-assignee">Eric<' in page
        assert raised.number in client.get("/portal/tickets/").content.decode()

    def test_an_empty_title_is_refused_and_nothing_stored(self, web_client, customer_user):
        response = web_client(customer_user).post(
            "/portal/tickets/new/", {"title": "", "priority": "low"}
        )
        assert response.status_code == 400
        assert "This field is required" in response.content.decode()
        assert not Ticket.objects.exists()

    def test_another_customer_gets_404(self, web_client, other_customer_user, raised):
        client = web_client(other_customer_user)
        assert client.get(f"/portal/tickets/{raised.pk}/").status_code == 404
        assert (
            client.post(f"/portal/tickets/{raised.pk}/comment/", {"body": "hi"}).status_code == 404
        )
        assert not Comment.objects.exists()

    def test_a_customer_cancels_before_work_starts(self, web_client, customer_user, raised):
        web_client(customer_user).post(f"/portal/tickets/{raised.pk}/cancel/")
        raised.refresh_from_db()
        assert raised.status == Status.CANCELLED

    def test_a_customer_cannot_write_an_internal_note(self, web_client, customer_user, raised):
        web_client(customer_user).post(
            f"/portal/tickets/{raised.pk}/comment/", {"body": "secret?", "internal": "on"}
        )
        assert Comment.objects.get().internal is False

    def test_attachments_are_checked_and_served_only_to_participants(
        self, web_client, customer_user, other_customer_user, raised
    ):
        client = web_client(customer_user)
        client.post(
            f"/portal/tickets/{raised.pk}/attach/",
            {"file": SimpleUploadedFile("modem.txt", b"lights blinking red\n")},
        )
        attachment = raised.attachments.get()
        download = client.get(f"/portal/tickets/{raised.pk}/attachments/{attachment.pk}/")
        assert b"".join(download.streaming_content) == b"lights blinking red\n"
        stranger = web_client(other_customer_user)
        assert (
            stranger.get(f"/portal/tickets/{raised.pk}/attachments/{attachment.pk}/").status_code
            == 404
        )
        bad = client.post(
            f"/portal/tickets/{raised.pk}/attach/",
            {"file": SimpleUploadedFile("evil.exe", b"MZ\x90\x00\x03\x00\x00\x00")},
            follow=True,
        )
        assert raised.attachments.count() == 1
        assert "error" in bad.content.decode()


@pytest.mark.django_db
class TestStaffTickets:
    def test_the_engineer_accepts_and_comments_and_internal_notes_stay_hidden(
        self, web_client, engineer, customer_user, raised
    ):
        staff = web_client(engineer)
        assert raised.number in staff.get("/tickets/").content.decode()
        staff.post(f"/tickets/{raised.pk}/accept/")
        raised.refresh_from_db()
        assert raised.status == Status.IN_PROGRESS
        staff.post(f"/tickets/{raised.pk}/comment/", {"body": "Technician on the way"})
        staff.post(
            f"/tickets/{raised.pk}/comment/", {"body": "Cable cut by builders", "internal": "on"}
        )
        staff_page = staff.get(f"/tickets/{raised.pk}/").content.decode()
        assert "Cable cut by builders" in staff_page
        customer_page = (
            web_client(customer_user).get(f"/portal/tickets/{raised.pk}/").content.decode()
        )
        assert "Technician on the way" in customer_page
        assert "Cable cut by builders" not in customer_page
        assert "Internal note" not in customer_page
        customer_timeline = web_client(customer_user).get(f"/portal/tickets/{raised.pk}/timeline/")
        assert "Technician on the way" in customer_timeline.content.decode()
        assert "Cable cut" not in customer_timeline.content.decode()
        assert "Cable cut" in staff.get(f"/tickets/{raised.pk}/timeline/").content.decode()

    def test_an_illegal_transition_is_explained(self, web_client, engineer, raised):
        response = web_client(engineer).post(
            f"/tickets/{raised.pk}/status/", {"status": "closed"}, follow=True
        )
        assert "Choose one of the allowed statuses" in response.content.decode()
        raised.refresh_from_db()
        assert raised.status == Status.ASSIGNED

    def test_resolve_with_a_resolution(self, web_client, engineer, raised):
        staff = web_client(engineer)
        staff.post(f"/tickets/{raised.pk}/accept/")
        staff.post(f"/tickets/{raised.pk}/resolve/", {"resolution": "Replaced the cable"})
        raised.refresh_from_db()
        assert raised.status == Status.RESOLVED
        assert raised.resolution == "Replaced the cable"

    def test_only_admins_assign(self, web_client, engineer, latecomer, admin_user, raised):
        assert (
            web_client(engineer)
            .post(f"/tickets/{raised.pk}/assign/", {"assignee": latecomer.pk})
            .status_code
            == 403
        )
        web_client(admin_user).post(f"/tickets/{raised.pk}/assign/", {"assignee": latecomer.pk})
        raised.refresh_from_db()
        assert raised.assignee == latecomer

    def test_another_engineers_ticket_cannot_be_accepted(self, web_client, latecomer, raised):
        response = web_client(latecomer).post(f"/tickets/{raised.pk}/accept/", follow=True)
        assert "assigned to another engineer" in response.content.decode()
        raised.refresh_from_db()
        assert raised.status == Status.ASSIGNED

    def test_queue_scopes_search_and_overdue(self, web_client, engineer, latecomer, raised):
        mine = web_client(engineer).get("/tickets/?scope=mine").content.decode()
        assert raised.number in mine
        theirs = web_client(latecomer).get("/tickets/?scope=mine").content.decode()
        assert raised.number not in theirs
        everyone = web_client(latecomer).get("/tickets/?scope=all&search=internet").content.decode()
        assert raised.number in everyone
        assert (
            raised.number
            in web_client(engineer)
            .get("/tickets/?scope=all&created_after=2020-01-01")
            .content.decode()
        )
        assert (
            raised.number
            not in web_client(engineer)
            .get("/tickets/?scope=all&created_before=2020-01-01")
            .content.decode()
        )
        Ticket.objects.filter(pk=raised.pk).update(due_at="2020-01-01T00:00:00Z")
        overdue = web_client(engineer).get("/tickets/?scope=all&overdue=true").content.decode()
        assert 'class="overdue"' in overdue

    def test_log_an_interaction_and_edit_priority(self, web_client, engineer, raised):
        staff = web_client(engineer)
        staff.post(
            f"/tickets/{raised.pk}/interaction/",
            {"kind": "call", "duration_minutes": 5, "notes": "Called back"},
        )
        interaction = Interaction.objects.get()
        assert interaction.duration_seconds == 300
        assert interaction.customer == raised.customer
        staff.post(
            f"/tickets/{raised.pk}/edit/",
            {"title": "No internet (street)", "priority": "critical", "service_type": ""},
        )
        raised.refresh_from_db()
        assert raised.priority == "critical"
        assert raised.title == "No internet (street)"
        assert "priority: high → critical" in staff.get(f"/tickets/{raised.pk}/").content.decode()


@pytest.mark.django_db
def test_a_customer_edits_their_ticket_until_work_starts(
    web_client, customer_user, engineer, raised
):
    client = web_client(customer_user)
    client.post(
        f"/portal/tickets/{raised.pk}/edit/",
        {"title": "No internet at all", "description": "Since 8:00"},
    )
    raised.refresh_from_db()
    assert raised.title == "No internet at all"
    web_client(engineer).post(f"/tickets/{raised.pk}/accept/")
    assert "Change your ticket" not in client.get(f"/portal/tickets/{raised.pk}/").content.decode()
    refused = client.post(
        f"/portal/tickets/{raised.pk}/edit/", {"title": "Changed later"}, follow=True
    )
    assert "can no longer be edited" in refused.content.decode()
    raised.refresh_from_db()
    assert raised.title == "No internet at all"
