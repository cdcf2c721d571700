"""Who may open which page: anonymous visitors are sent to sign in, customers
never see staff pages, engineers never see admin pages, staff never use the portal."""

import pytest

STAFF_PAGES = [
    "/",
    "/sites/",
    "/outbox/",
    "/tickets/",
    "/customers/",
    "/customers/new/",
    "/customers/import/",
    "/notifications/",
    "/notifications/new/",
    "/interactions/",
]
STAFF_PARTIALS = ["/dashboard/sending/"]
ADMIN_PAGES = ["/users/", "/users/requests/"]
PORTAL_PAGES = [
    "/portal/tickets/",
    "/portal/tickets/new/",
    "/portal/profile/",
    "/portal/notifications/",
]


@pytest.mark.django_db
class TestPermissions:
    @pytest.mark.parametrize("url", STAFF_PAGES + STAFF_PARTIALS + ADMIN_PAGES + PORTAL_PAGES)
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, url):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")

    @pytest.mark.parametrize(
        "url", [u for u in STAFF_PAGES + STAFF_PARTIALS + ADMIN_PAGES if u != "/"]
    )
    def test_customers_never_see_staff_pages(self, web_client, customer_user, url):
        assert web_client(customer_user).get(url).status_code == 403

    def test_a_customer_at_the_root_is_sent_to_the_portal(self, web_client, customer_user):
        assert web_client(customer_user).get("/")["Location"] == "/portal/tickets/"

    @pytest.mark.parametrize("url", ADMIN_PAGES)
    def test_engineers_never_see_admin_pages(self, web_client, engineer, url):
        assert web_client(engineer).get(url).status_code == 403

    @pytest.mark.parametrize("url", STAFF_PAGES)
    def test_engineers_see_staff_pages(self, web_client, engineer, url):
        response = web_client(engineer).get(url)
        assert response.status_code == 200
        assert response.content.count(b"<h1") == 1
        assert b"<title>" in response.content

    @pytest.mark.parametrize("url", STAFF_PAGES + ADMIN_PAGES)
    def test_admins_see_everything_staff_see(self, web_client, admin_user, url):
        assert web_client(admin_user).get(url).status_code == 200

    @pytest.mark.parametrize("url", PORTAL_PAGES)
    def test_staff_do_not_use_the_portal(self, web_client, engineer, url):
        assert web_client(engineer).get(url).status_code == 403

    @pytest.mark.parametrize("url", STAFF_PAGES)
    def test_a_deactivated_engineer_is_signed_out(self, web_client, engineer, url):
        client = web_client(engineer)
        engineer.is_active = False
        engineer.save()
        assert client.get(url).status_code == 302
