from collections.abc import Callable

from django.urls import URLPattern, path

from web.views import (
    accounts,
    customers,
    dashboard,
    deliverability,
    directory,
    interactions,
    notifications,
    outbox,
    portal,
    preferences,
    tickets,
)


def under(
    prefix: str, *routes: tuple[str, Callable] | tuple[str, Callable, str]
) -> list[URLPattern]:
    """The routes below one address, each given as (rest of the path, view[, name])."""
    patterns = []
    for rest, view, *name in routes:
        patterns.append(path(prefix + rest, view, name=name[0] if name else None))
    return patterns


urlpatterns = [
    path("", dashboard.home_view, name="web-home"),
    path("dashboard/sending/", dashboard.dashboard_sending_view),
    *under(
        "me/",
        ("availability/", dashboard.availability_view),
        ("settings/", accounts.settings_view, "web-settings"),
    ),
    path("login/", accounts.login_view, name="web-login"),
    path("logout/", accounts.logout_view, name="web-logout"),
    path("signup/", accounts.signup_view, name="web-signup"),
    *under(
        "users/",
        ("", accounts.users_view, "web-users"),
        ("<int:user_id>/", accounts.user_update_view, "web-user-update"),
        ("requests/", accounts.requests_view, "web-requests"),
        (
            "requests/<int:user_id>/<str:decision>/",
            accounts.request_decide_view,
            "web-request-decide",
        ),
    ),
    *under(
        "customers/",
        ("", customers.customer_list_view, "web-customers"),
        ("new/", customers.customer_form_view, "web-customer-new"),
        ("validate/", customers.customer_validate_view),
        ("<int:customer_id>/validate/", customers.customer_validate_view),
        ("import/", customers.customer_import_route, "web-customer-import"),
        ("import/report.csv", customers.customer_import_report_view),
    ),
    *under(
        "customers/<int:customer_id>/",
        ("", customers.customer_detail_view, "web-customer"),
        ("edit/", customers.customer_form_view),
        ("ticket/", customers.customer_ticket_view),
        ("interaction/", customers.customer_interaction_view),
        ("delete/", customers.customer_delete_view),
    ),
    *under(
        "sites/",
        ("", directory.sites_view, "web-sites"),
        ("new/", directory.site_create_view),
        ("<int:site_id>/", directory.site_edit_view),
        ("<int:site_id>/delete/", directory.site_delete_view),
    ),
    *under(
        "service-types/",
        ("new/", directory.service_type_create_view),
        ("<int:service_type_id>/delete/", directory.service_type_delete_view),
    ),
    *under(
        "notifications/",
        ("", notifications.notification_list_view, "web-notifications"),
        ("new/", notifications.notification_compose_view, "web-compose"),
        ("new/starter/", notifications.notification_starter_view),
        ("preview/", notifications.notification_preview_view),
        ("approvals/", deliverability.approvals_view, "web-approvals"),
    ),
    *under(
        "notifications/<int:notification_id>/",
        ("", notifications.notification_detail_view),
        ("edit/", notifications.notification_compose_view),
        ("send/", notifications.notification_send_view),
        ("progress/", notifications.notification_progress_view),
        ("cancel/", notifications.notification_cancel_view),
        ("delete/", notifications.notification_delete_view),
        ("duplicate/", notifications.notification_duplicate_view),
        ("retry-failed/", notifications.notification_retry_failed_view),
        ("approve/", deliverability.notification_approve_view),
    ),
    path("suppressions/", deliverability.suppressions_view, name="web-suppressions"),
    path("suppressions/<int:suppression_id>/delete/", deliverability.suppression_delete_view),
    path("preferences/<str:token>/", preferences.preferences_view, name="web-preferences"),
    path("unsubscribe/<str:token>/", preferences.unsubscribe_view, name="web-unsubscribe"),
    path("outbox/", outbox.outbox_view, name="web-outbox"),
    path("outbox/<int:item_id>/", outbox.outbox_item_view, name="web-outbox-item"),
    # Tickets (staff)
    path("tickets/", tickets.ticket_list_view, name="web-tickets"),
    path("interactions/", interactions.interactions_view, name="web-interactions"),
    *under(
        "tickets/<int:ticket_id>/",
        ("", tickets.ticket_detail_view, "web-ticket"),
        ("timeline/", tickets.ticket_timeline_view),
        ("accept/", tickets.ticket_accept_view),
        ("status/", tickets.ticket_status_view),
        ("resolve/", tickets.ticket_resolve_view),
        ("assign/", tickets.ticket_assign_view),
        ("edit/", tickets.ticket_edit_view),
        ("interaction/", tickets.ticket_interaction_view),
        ("comment/", tickets.ticket_comment_view),
        ("attach/", tickets.ticket_attach_view),
        ("attachments/<int:attachment_id>/", tickets.ticket_attachment_view),
    ),
    # The customer portal
    *under(
        "portal/",
        ("", portal.portal_home_view, "web-portal"),
        ("tickets/", portal.portal_tickets_view, "web-portal-tickets"),
        ("profile/", portal.portal_profile_view, "web-portal-profile"),
        ("notifications/", portal.portal_notifications_view, "web-portal-notifications"),
        ("tickets/new/", portal.portal_ticket_new_view, "web-portal-ticket-new"),
    ),
    *under(
        "portal/tickets/<int:ticket_id>/",
        ("", portal.portal_ticket_view, "web-portal-ticket"),
        ("comment/", portal.portal_ticket_comment_view),
        ("attach/", portal.portal_ticket_attach_view),
        ("cancel/", portal.portal_ticket_cancel_view),
        ("edit/", portal.portal_ticket_edit_view),
        ("timeline/", portal.portal_ticket_timeline_view),
        ("attachments/<int:attachment_id>/", portal.portal_attachment_view),
    ),
]
