"""The website's attachment downloads are the API's: a file a customer
uploaded is never rendered as one of our pages (CSP sandbox, nosniff)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tickets.models import Ticket

pytestmark = pytest.mark.django_db

PAGE = b"<html><script>alert(document.cookie)</script></html>\n"


@pytest.fixture
def attached(web_client, customer_user, engineer):
    client = web_client(customer_user)
    client.post("/portal/tickets/new/", {"title": "No internet", "priority": "high"})
    ticket = Ticket.objects.get()
    client.post(
        f"/portal/tickets/{ticket.pk}/attach/",
        {"file": SimpleUploadedFile("notes.txt", PAGE, content_type="text/html")},
    )
    return ticket, ticket.attachments.get()


def _headers(response) -> tuple:
    return (
        response["Content-Security-Policy"],
        response["X-Content-Type-Options"],
        response["Content-Disposition"],
    )


def test_it_sends_staff_customer_and_api_downloads_with_the_same_headers(
    web_client, customer_user, engineer, attached
):
    ticket, attachment = attached
    staff = web_client(engineer).get(f"/tickets/{ticket.pk}/attachments/{attachment.pk}/")
    portal = web_client(customer_user).get(
        f"/portal/tickets/{ticket.pk}/attachments/{attachment.pk}/"
    )
    api_client = APIClient()
    api_client.force_authenticate(engineer)
    api = api_client.get(f"/api/tickets/{ticket.pk}/attachments/{attachment.pk}/download/")
    assert staff.status_code == portal.status_code == api.status_code == 200
    assert _headers(staff)[0] == "sandbox" and _headers(staff)[1] == "nosniff"
    assert _headers(staff)[2].startswith("attachment;")
    assert _headers(staff) == _headers(portal) == _headers(api)
    assert b"".join(staff.streaming_content) == PAGE
