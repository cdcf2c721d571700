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
    "/me/settings/",
]
STAFF_PARTIALS = ["/dashboard/sending/"]
ADMIN_PAGES = ["/users/", "/users/requests/", "/tickets/stats/"]
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


@pytest.fixture
def objects(db, customer_user, engineer):
    """One of each object a page shows, owned by Carol the customer."""
    from customers.models import Customer
    from customers.services import site_create
    from delivery.models import OutboxMessage
    from notifications.models import Notification
    from tickets.services import ticket_create

    customer = Customer.objects.get(user=customer_user)
    ticket = ticket_create(actor=customer_user, customer=customer, title="Slow")
    return {
        "customer": customer.pk,
        "ticket": ticket.pk,
        "notification": Notification.objects.create(title="t", body="b", channels=["email"]).pk,
        "outbox": OutboxMessage.objects.create(channel="sms", to="+79001234567", body="x").pk,
        "site": site_create(code="S1", name="Site").pk,
    }


STAFF_OBJECT_PAGES = [
    "/customers/{customer}/",
    "/customers/{customer}/edit/",
    "/tickets/{ticket}/",
    "/tickets/{ticket}/timeline/",
    "/notifications/{notification}/",
    "/notifications/{notification}/edit/",
    "/notifications/{notification}/send/",
    "/notifications/{notification}/progress/",
    "/outbox/{outbox}/",
]
ADMIN_OBJECT_PAGES = ["/sites/{site}/"]
PORTAL_OBJECT_PAGES = ["/portal/tickets/{ticket}/", "/portal/tickets/{ticket}/timeline/"]


@pytest.mark.django_db
class TestObjectPagePermissions:
    @pytest.mark.parametrize("url", STAFF_OBJECT_PAGES + ADMIN_OBJECT_PAGES + PORTAL_OBJECT_PAGES)
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, objects, url):
        response = client.get(url.format(**objects))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")

    @pytest.mark.parametrize("url", STAFF_OBJECT_PAGES + ADMIN_OBJECT_PAGES)
    def test_customers_never_see_staff_pages_even_about_themselves(
        self, web_client, customer_user, objects, url
    ):
        assert web_client(customer_user).get(url.format(**objects)).status_code == 403

    @pytest.mark.parametrize("url", STAFF_OBJECT_PAGES)
    def test_engineers_see_staff_object_pages(self, web_client, engineer, objects, url):
        assert web_client(engineer).get(url.format(**objects)).status_code == 200

    @pytest.mark.parametrize("url", ADMIN_OBJECT_PAGES)
    def test_engineers_never_see_admin_object_pages(self, web_client, engineer, objects, url):
        assert web_client(engineer).get(url.format(**objects)).status_code == 403

    @pytest.mark.parametrize("url", PORTAL_OBJECT_PAGES)
    def test_the_owner_sees_their_ticket_and_another_customer_gets_404(
        self, web_client, customer_user, other_customer_user, objects, url
    ):
        assert web_client(customer_user).get(url.format(**objects)).status_code == 200
        assert web_client(other_customer_user).get(url.format(**objects)).status_code == 404

    @pytest.mark.parametrize(
        "url", ["/customers/999999/", "/tickets/999999/", "/notifications/999999/"]
    )
    def test_missing_objects_are_404(self, web_client, engineer, url):
        assert web_client(engineer).get(url).status_code == 404
