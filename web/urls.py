from django.urls import path

from web.views import accounts, customers, dashboard, directory, outbox, portal, tickets

urlpatterns = [
    path("", dashboard.home_view, name="web-home"),
    path("login/", accounts.login_view, name="web-login"),
    path("logout/", accounts.logout_view, name="web-logout"),
    path("signup/", accounts.signup_view, name="web-signup"),
    path("users/", accounts.users_view, name="web-users"),
    path("users/<int:user_id>/", accounts.user_update_view, name="web-user-update"),
    path("users/requests/", accounts.requests_view, name="web-requests"),
    path(
        "users/requests/<int:user_id>/<str:decision>/",
        accounts.request_decide_view,
        name="web-request-decide",
    ),
    path("customers/", customers.customer_list_view, name="web-customers"),
    path("customers/new/", customers.customer_form_view, name="web-customer-new"),
    path("customers/import/", customers.customer_import_route, name="web-customer-import"),
    path("customers/import/report.csv", customers.customer_import_report_view),
    path("customers/<int:customer_id>/", customers.customer_detail_view, name="web-customer"),
    path("customers/<int:customer_id>/edit/", customers.customer_form_view),
    path("sites/", directory.sites_view, name="web-sites"),
    path("outbox/", outbox.outbox_view, name="web-outbox"),
    path("outbox/<int:item_id>/", outbox.outbox_item_view, name="web-outbox-item"),
    # Tickets (staff)
    path("tickets/", tickets.ticket_list_view, name="web-tickets"),
    path("tickets/<int:ticket_id>/", tickets.ticket_detail_view, name="web-ticket"),
    path("tickets/<int:ticket_id>/accept/", tickets.ticket_accept_view),
    path("tickets/<int:ticket_id>/status/", tickets.ticket_status_view),
    path("tickets/<int:ticket_id>/resolve/", tickets.ticket_resolve_view),
    path("tickets/<int:ticket_id>/assign/", tickets.ticket_assign_view),
    path("tickets/<int:ticket_id>/edit/", tickets.ticket_edit_view),
    path("tickets/<int:ticket_id>/interaction/", tickets.ticket_interaction_view),
    path("tickets/<int:ticket_id>/comment/", tickets.ticket_comment_view),
    path("tickets/<int:ticket_id>/attach/", tickets.ticket_attach_view),
    path(
        "tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        tickets.ticket_attachment_view,
    ),
    # The customer portal
    path("portal/", portal.portal_home_view, name="web-portal"),
    path("portal/tickets/", portal.portal_tickets_view, name="web-portal-tickets"),
    path("portal/tickets/new/", portal.portal_ticket_new_view, name="web-portal-ticket-new"),
    path("portal/tickets/<int:ticket_id>/", portal.portal_ticket_view, name="web-portal-ticket"),
    path("portal/tickets/<int:ticket_id>/comment/", portal.portal_ticket_comment_view),
    path("portal/tickets/<int:ticket_id>/attach/", portal.portal_ticket_attach_view),
    path("portal/tickets/<int:ticket_id>/cancel/", portal.portal_ticket_cancel_view),
    path(
        "portal/tickets/<int:ticket_id>/attachments/<int:attachment_id>/",
        portal.portal_attachment_view,
    ),
]
