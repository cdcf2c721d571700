from django.urls import path

from web.views import accounts, dashboard, directory, outbox

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
    path("sites/", directory.sites_view, name="web-sites"),
    path("outbox/", outbox.outbox_view, name="web-outbox"),
    path("outbox/<int:item_id>/", outbox.outbox_item_view, name="web-outbox-item"),
]
