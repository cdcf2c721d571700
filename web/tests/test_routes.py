"""The website's named addresses, which templates, redirects and bookmarks rely on."""

import pytest
from django.urls import resolve, reverse

from tickets.models import Comment, Ticket
from web.views import portal, tickets

NAMED = [
    ("web-home", {}, "/"),
    ("web-login", {}, "/login/"),
    ("web-logout", {}, "/logout/"),
    ("web-signup", {}, "/signup/"),
    ("web-users", {}, "/users/"),
    ("web-user-update", {"user_id": 7}, "/users/7/"),
    ("web-requests", {}, "/users/requests/"),
    ("web-request-decide", {"user_id": 7, "decision": "approve"}, "/users/requests/7/approve/"),
    ("web-customers", {}, "/customers/"),
    ("web-customer-new", {}, "/customers/new/"),
    ("web-customer-import", {}, "/customers/import/"),
    ("web-customer", {"customer_id": 3}, "/customers/3/"),
    ("web-sites", {}, "/sites/"),
    ("web-notifications", {}, "/notifications/"),
    ("web-compose", {}, "/notifications/new/"),
    ("web-outbox", {}, "/outbox/"),
    ("web-outbox-item", {"item_id": 4}, "/outbox/4/"),
    ("web-tickets", {}, "/tickets/"),
    ("web-interactions", {}, "/interactions/"),
    ("web-ticket", {"ticket_id": 5}, "/tickets/5/"),
    ("web-portal", {}, "/portal/"),
    ("web-portal-tickets", {}, "/portal/tickets/"),
    ("web-portal-profile", {}, "/portal/profile/"),
    ("web-portal-notifications", {}, "/portal/notifications/"),
    ("web-portal-ticket-new", {}, "/portal/tickets/new/"),
    ("web-portal-ticket", {"ticket_id": 5}, "/portal/tickets/5/"),
]


@pytest.mark.parametrize("name,kwargs,address", NAMED)
def test_it_keeps_every_named_address(name, kwargs, address):
    assert reverse(name, kwargs=kwargs) == address


@pytest.mark.parametrize(
    "address,view",
    [
        ("/tickets/5/comment/", tickets.ticket_comment_view),
        ("/tickets/5/attach/", tickets.ticket_attach_view),
        ("/tickets/5/timeline/", tickets.ticket_timeline_view),
        ("/tickets/5/attachments/9/", tickets.ticket_attachment_view),
        ("/portal/tickets/5/comment/", portal.portal_ticket_comment_view),
        ("/portal/tickets/5/attach/", portal.portal_ticket_attach_view),
        ("/portal/tickets/5/timeline/", portal.portal_ticket_timeline_view),
        ("/portal/tickets/5/attachments/9/", portal.portal_attachment_view),
    ],
)
def test_each_side_routes_its_ticket_pages_to_its_own_views(address, view):
    assert resolve(address).func is view


@pytest.mark.django_db
def test_a_customer_cannot_comment_on_the_staff_side_even_on_their_own_ticket(
    web_client, customer_user, engineer
):
    client = web_client(customer_user)
    client.post("/portal/tickets/new/", {"title": "No internet", "priority": "high"})
    ticket = Ticket.objects.get()
    response = client.post(f"/tickets/{ticket.pk}/comment/", {"body": "hi", "internal": "on"})
    assert response.status_code == 403
    assert not Comment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("side", ["/tickets/", "/portal/tickets/"])
def test_comments_are_only_posted(web_client, admin_user, customer_user, side):
    web_client(customer_user).post("/portal/tickets/new/", {"title": "Slow", "priority": "low"})
    ticket = Ticket.objects.get()
    user = admin_user if side == "/tickets/" else customer_user
    assert web_client(user).get(f"{side}{ticket.pk}/comment/").status_code == 405
