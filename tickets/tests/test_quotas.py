"""What one customer may pile onto the service: attachments per ticket and
in total, comments and files on finished tickets, tickets per hour."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import client_for
from tickets.models import Attachment, Comment, Status, Ticket
from tickets.tests.conftest import open_ticket

pytestmark = pytest.mark.django_db


def _attach(client, ticket, content: bytes = b"speed 12 mbps\n", name: str = "log.txt"):
    return client.post(
        f"/api/tickets/{ticket.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_it_refuses_an_attachment_over_the_per_ticket_count(customer_user, settings):
    settings.TICKET_ATTACHMENTS_MAX_COUNT = 2
    ticket = open_ticket(customer_user)
    client = client_for(customer_user)
    assert _attach(client, ticket).status_code == 201
    assert _attach(client, ticket).status_code == 201
    response = _attach(client, ticket)
    assert response.status_code == 400
    assert "already holds 2 attachments" in response.json()["file"][0]
    assert Attachment.objects.filter(ticket=ticket).count() == 2
    assert _attach(client, open_ticket(customer_user)).status_code == 201


def test_it_refuses_an_attachment_over_the_customers_total(
    customer_user, other_customer_user, settings, attachments_in_tmp
):
    settings.CUSTOMER_ATTACHMENTS_MAX_BYTES = 100
    client = client_for(customer_user)
    first, second = open_ticket(customer_user), open_ticket(customer_user)
    assert _attach(client, first, b"a" * 60 + b"\n").status_code == 201
    response = _attach(client, second, b"b" * 60 + b"\n")
    assert response.status_code == 413
    assert response.json()["code"] == "attachment_quota"
    assert "already take 61 of 100 bytes" in response.json()["detail"]
    assert Attachment.objects.filter(ticket=second).count() == 0
    assert len(list((attachments_in_tmp / "attachments").iterdir())) == 1  # nothing left behind
    # Another customer's quota is their own.
    other = client_for(other_customer_user)
    assert _attach(other, open_ticket(other_customer_user), b"c" * 60 + b"\n").status_code == 201


@pytest.mark.parametrize("finished", [Status.CLOSED, Status.CANCELLED])
def test_it_refuses_comments_and_files_on_a_finished_ticket(customer_user, engineer, finished):
    ticket = open_ticket(customer_user)
    Ticket.objects.filter(pk=ticket.pk).update(status=finished)
    for client in (client_for(customer_user), client_for(engineer)):
        response = client.post(
            f"/api/tickets/{ticket.pk}/comments/", {"body": "Hello?"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "ticket_locked"
        assert "new ticket" in response.json()["detail"]
        response = _attach(client, ticket)
        assert response.status_code == 409
    assert not Comment.objects.filter(ticket=ticket).exists()
    assert not Attachment.objects.filter(ticket=ticket).exists()


def test_it_still_takes_comments_on_a_resolved_ticket(customer_user):
    ticket = open_ticket(customer_user)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)
    response = client_for(customer_user).post(
        f"/api/tickets/{ticket.pk}/comments/", {"body": "Still broken"}, format="json"
    )
    assert response.status_code == 201


def test_it_limits_how_many_tickets_a_customer_raises(
    customer_user, other_customer_user, admin_user, settings
):
    settings.TICKET_CREATE_RATE = "3/hour"
    client = client_for(customer_user)
    for n in range(3):
        response = client.post("/api/tickets/", {"title": f"Down {n}"}, format="json")
        assert response.status_code == 201
    response = client.post("/api/tickets/", {"title": "Down again"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "3/hour" in response.json()["detail"]
    assert "try again in" in response.json()["detail"]
    assert int(response["Retry-After"]) > 0
    assert Ticket.objects.filter(customer=customer_user.customer).count() == 3
    # Other customers, and staff raising tickets for customers, are not held back.
    other = client_for(other_customer_user)
    assert other.post("/api/tickets/", {"title": "Mine"}, format="json").status_code == 201
    staff = client_for(admin_user)
    for _ in range(4):
        response = staff.post(
            "/api/tickets/",
            {"title": "On the phone", "customer": customer_user.customer.pk},
            format="json",
        )
        assert response.status_code == 201


def test_the_portal_counts_against_the_same_ticket_rate(customer_user, settings):
    from django.test import Client

    settings.TICKET_CREATE_RATE = "2/hour"
    client_for(customer_user).post("/api/tickets/", {"title": "By API"}, format="json")
    browser = Client()
    browser.force_login(customer_user)
    form = {"title": "From the portal", "description": "", "priority": "medium"}
    assert browser.post("/portal/tickets/new/", form).status_code == 302
    response = browser.post("/portal/tickets/new/", form)
    assert response.status_code == 429
    assert "as many tickets as an account may (2/hour)" in response.content.decode()
    assert Ticket.objects.filter(customer=customer_user.customer).count() == 2
