from collections.abc import Callable

from django.urls import URLPattern, path

from web.views import (
    accounts,
    customers,
    dashboard,
    deliverability,
    directory,
    incidents,
    interactions,
    notifications,
    outbox,
    portal,
    preferences,
    security,
    status,
    ticket_stats,
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
    path("dashboard/sending/", dashboard.dashboard_sending_view, name="web-dashboard-sending"),
    path("status/", status.status_page_view, name="web-status"),
    path("status/feed.atom", status.status_feed_view, name="web-status-feed"),
    *under(
        "me/",
        ("availability/", dashboard.availability_view, "web-availability"),
        ("settings/", accounts.settings_view, "web-settings"),
        ("security/", security.security_view, "web-security"),
        (
            "security/sign-out-everywhere/",
            security.sign_out_everywhere_view,
            "web-sign-out-everywhere",
        ),
    ),
    path("login/", accounts.login_view, name="web-login"),
    path("logout/", accounts.logout_view, name="web-logout"),
    path("signup/", accounts.signup_view, name="web-signup"),
    path("confirm-email/resend/", security.confirm_resend_view, name="web-confirm-resend"),
    path("confirm-email/<str:token>/", security.confirm_email_view, name="web-confirm-email"),
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
        ("validate/", customers.customer_validate_view, "web-customer-validate"),
        (
            "<int:customer_id>/validate/",
            customers.customer_validate_view,
            "web-customer-revalidate",
        ),
        ("import/", customers.customer_import_route, "web-customer-import"),
        ("import/report.csv", customers.customer_import_report_view, "web-customer-import-report"),
    ),
    *under(
        "customers/<int:customer_id>/",
        ("", customers.customer_detail_view, "web-customer"),
        ("edit/", customers.customer_form_view, "web-customer-edit"),
        ("ticket/", customers.customer_ticket_view, "web-customer-ticket"),
        ("interaction/", customers.customer_interaction_view, "web-customer-interaction"),
        ("delete/", customers.customer_delete_view, "web-customer-delete"),
    ),
    *under(
        "sites/",
        ("", directory.sites_view, "web-sites"),
        ("new/", directory.site_create_view, "web-site-new"),
        ("<int:site_id>/", directory.site_edit_view, "web-site"),
        ("<int:site_id>/delete/", directory.site_delete_view, "web-site-delete"),
    ),
    *under(
        "service-types/",
        ("new/", directory.service_type_create_view, "web-service-type-new"),
        (
            "<int:service_type_id>/delete/",
            directory.service_type_delete_view,
            "web-service-type-delete",
        ),
    ),
    *under(
        "notifications/",
        ("", notifications.notification_list_view, "web-notifications"),
        ("new/", notifications.notification_compose_view, "web-compose"),
        ("new/starter/", notifications.notification_starter_view, "web-compose-starter"),
        ("preview/", notifications.notification_preview_view, "web-compose-preview"),
        ("approvals/", deliverability.approvals_view, "web-approvals"),
    ),
    *under(
        "notifications/<int:notification_id>/",
        ("", notifications.notification_detail_view, "web-notification"),
        ("edit/", notifications.notification_compose_view, "web-notification-edit"),
        ("send/", notifications.notification_send_view, "web-notification-send"),
        ("progress/", notifications.notification_progress_view, "web-notification-progress"),
        ("cancel/", notifications.notification_cancel_view, "web-notification-cancel"),
        ("delete/", notifications.notification_delete_view, "web-notification-delete"),
        ("duplicate/", notifications.notification_duplicate_view, "web-notification-duplicate"),
        ("retry-failed/", notifications.notification_retry_failed_view, "web-notification-retry"),
        ("approve/", deliverability.notification_approve_view, "web-notification-approve"),
    ),
    *under(
        "incidents/",
        ("", incidents.incident_list_view, "web-incidents"),
        ("new/", incidents.incident_new_view, "web-incident-new"),
        ("new/preview/", incidents.incident_preview_view, "web-incident-preview"),
        ("new/sms-count/", incidents.incident_sms_count_view, "web-incident-sms-count"),
        ("sites/", incidents.incident_site_search_view, "web-incident-site-search"),
        ("sites/chip/", incidents.incident_site_chip_view, "web-incident-site-chip"),
    ),
    *under(
        "incidents/<int:incident_id>/",
        ("", incidents.incident_detail_view, "web-incident"),
        ("audience/", incidents.incident_audience_view, "web-incident-audience"),
        ("timeline/", incidents.incident_timeline_view, "web-incident-timeline"),
        ("updates/", incidents.incident_update_view, "web-incident-update"),
        ("resolve/", incidents.incident_resolve_view, "web-incident-resolve"),
        ("rca/", incidents.incident_rca_view, "web-incident-rca"),
        ("complete/", incidents.incident_complete_view, "web-incident-complete"),
        ("cancel/", incidents.incident_cancel_view, "web-incident-cancel"),
        ("delete/", incidents.incident_delete_view, "web-incident-delete"),
    ),
    path("suppressions/", deliverability.suppressions_view, name="web-suppressions"),
    path(
        "suppressions/<int:suppression_id>/delete/",
        deliverability.suppression_delete_view,
        name="web-suppression-delete",
    ),
    path("preferences/<str:token>/", preferences.preferences_view, name="web-preferences"),
    path("unsubscribe/<str:token>/", preferences.unsubscribe_view, name="web-unsubscribe"),
    path("outbox/", outbox.outbox_view, name="web-outbox"),
    path("outbox/<int:item_id>/", outbox.outbox_item_view, name="web-outbox-item"),
    # Tickets (staff)
    path("tickets/", tickets.ticket_list_view, name="web-tickets"),
    path("tickets/stats/", ticket_stats.ticket_stats_view, name="web-ticket-stats"),
    path("interactions/", interactions.interactions_view, name="web-interactions"),
    *under(
        "tickets/<int:ticket_id>/",
        ("", tickets.ticket_detail_view, "web-ticket"),
        ("timeline/", tickets.ticket_timeline_view, "web-ticket-timeline"),
        ("accept/", tickets.ticket_accept_view, "web-ticket-accept"),
        ("status/", tickets.ticket_status_view, "web-ticket-status"),
        ("resolve/", tickets.ticket_resolve_view, "web-ticket-resolve"),
        ("assign/", tickets.ticket_assign_view, "web-ticket-assign"),
        ("edit/", tickets.ticket_edit_view, "web-ticket-edit"),
        ("interaction/", tickets.ticket_interaction_view, "web-ticket-interaction"),
        ("comment/", tickets.ticket_comment_view, "web-ticket-comment"),
        ("attach/", tickets.ticket_attach_view, "web-ticket-attach"),
        (
            "attachments/<int:attachment_id>/",
            tickets.ticket_attachment_view,
            "web-ticket-attachment",
        ),
    ),
    # The customer portal
    *under(
        "portal/",
        ("", portal.portal_home_view, "web-portal"),
        ("tickets/", portal.portal_tickets_view, "web-portal-tickets"),
        ("profile/", portal.portal_profile_view, "web-portal-profile"),
        ("notifications/", portal.portal_notifications_view, "web-portal-notifications"),
        ("tickets/new/", portal.portal_ticket_new_view, "web-portal-ticket-new"),
        ("tickets/new/wait/", portal.portal_outage_wait_view, "web-portal-outage-wait"),
    ),
    *under(
        "portal/tickets/<int:ticket_id>/",
        ("", portal.portal_ticket_view, "web-portal-ticket"),
        ("comment/", portal.portal_ticket_comment_view, "web-portal-ticket-comment"),
        ("attach/", portal.portal_ticket_attach_view, "web-portal-ticket-attach"),
        ("cancel/", portal.portal_ticket_cancel_view, "web-portal-ticket-cancel"),
        ("edit/", portal.portal_ticket_edit_view, "web-portal-ticket-edit"),
        ("timeline/", portal.portal_ticket_timeline_view, "web-portal-ticket-timeline"),
        (
            "attachments/<int:attachment_id>/",
            portal.portal_attachment_view,
            "web-portal-attachment",
        ),
    ),
]
