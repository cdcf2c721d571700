"""A customer's account reaches the directory only once the owner of the
address has followed the signed, expiring, single-use link emailed to it."""

import re
import time
from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role, User
from conftest import client_for, make_user
from customers.models import Customer
from delivery.models import Message

PASSWORD = "a sturdy pass phrase 42"
SIGN_UP = {
    "username": "mallory",
    "email": "owner@example.com",
    "password": PASSWORD,
    "role": "customer",
}
LINK = re.compile(r"(https?://\S+)/confirm-email/(\S+)/")


def link_sent_to(address: str) -> tuple[str, str]:
    """(base URL, token) of the latest confirmation link emailed to an address."""
    message = Message.objects.filter(to_address=address).latest("id")
    assert message.subject == "Confirm your email address"
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def sign_up(anon_client, **change) -> APIClient:
    """Sign up as a customer and sign in; the client carries the new token."""
    response = anon_client.post("/api/register/", {**SIGN_UP, **change})
    assert response.status_code == 201, response.content
    login = anon_client.post(
        "/api/login/", {"username": change.get("username", "mallory"), "password": PASSWORD}
    )
    assert login.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    return client


@pytest.fixture
def web_client():
    def make(user) -> Client:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
        return client

    return make


@pytest.fixture
def directory_record(db):
    return Customer.objects.create(
        account_number="ACC-7", name="Owner Ltd", email="owner@example.com", phone="+79001234567"
    )


@pytest.mark.django_db
class TestSignUpWithSomeoneElsesAddress:
    def test_it_reaches_nothing_of_the_record_until_the_link_is_followed(
        self, anon_client, directory_record
    ):
        mallory = sign_up(anon_client)
        for path in ("/api/customers/me/", "/api/tickets/"):
            response = mallory.get(path)
            assert response.status_code == 403, path
            assert response.json()["code"] == "email_unconfirmed"
            assert "mailbox" in response.json()["detail"]
        response = mallory.patch("/api/customers/me/", {"phone": "+79990000000"}, format="json")
        assert response.status_code == 403
        response = mallory.post("/api/tickets/", {"title": "Hi", "description": "Let me in"})
        assert response.status_code == 403
        assert response.json()["code"] == "email_unconfirmed"
        directory_record.refresh_from_db()
        assert directory_record.user is None
        assert directory_record.phone == "+79001234567"
        me = mallory.get("/api/me/")
        assert me.status_code == 200
        assert me.json()["email_confirmed"] is False

    def test_the_link_goes_to_the_address_under_the_public_base_url(
        self, anon_client, directory_record, settings
    ):
        settings.PUBLIC_BASE_URL = "https://proactive.example.net"
        sign_up(anon_client)
        base, _ = link_sent_to("owner@example.com")
        assert base == "https://proactive.example.net"

    def test_opening_the_link_shows_a_button_and_confirms_nothing(
        self, anon_client, directory_record
    ):
        sign_up(anon_client)
        _, token = link_sent_to("owner@example.com")
        page = Client().get(f"/confirm-email/{token}/")
        assert page.status_code == 200
        assert "Confirm my address" in page.content.decode()
        assert "owner@example.com" in page.content.decode()
        directory_record.refresh_from_db()
        assert directory_record.user is None
        assert User.objects.get(username="mallory").email_confirmed_at is None

    def test_pressing_the_button_links_the_account_to_the_record(
        self, anon_client, directory_record
    ):
        customer = sign_up(anon_client)
        _, token = link_sent_to("owner@example.com")
        page = Client().post(f"/confirm-email/{token}/")
        assert page.status_code == 200
        assert "is confirmed" in page.content.decode()
        directory_record.refresh_from_db()
        assert directory_record.user.username == "mallory"
        me = customer.get("/api/customers/me/")
        assert me.status_code == 200
        assert me.json()["account_number"] == "ACC-7"
        assert customer.get("/api/tickets/").status_code == 200

    def test_a_link_works_once(self, anon_client, directory_record):
        sign_up(anon_client)
        _, token = link_sent_to("owner@example.com")
        assert Client().post(f"/confirm-email/{token}/").status_code == 200
        again = Client().post(f"/confirm-email/{token}/")
        assert again.status_code == 400
        assert "already used" in again.content.decode()

    def test_an_expired_link_confirms_nothing(self, anon_client, directory_record, settings):
        settings.EMAIL_CONFIRMATION_HOURS = 2
        sign_up(anon_client)
        _, token = link_sent_to("owner@example.com")
        later = time.time() + 3 * 3600
        with mock.patch("django.core.signing.time.time", return_value=later):
            response = Client().post(f"/confirm-email/{token}/")
        assert response.status_code == 400
        assert "expired" in response.content.decode()
        directory_record.refresh_from_db()
        assert directory_record.user is None

    def test_a_tampered_link_confirms_nothing(self, anon_client, directory_record):
        sign_up(anon_client)
        _, token = link_sent_to("owner@example.com")
        claim = signing.loads(token, salt="accounts.email-confirmation")
        forged = signing.dumps({**claim, "e": "other@example.com"}, salt="wrong salt")
        for bad in (forged, token[:-2] + "xx", "nonsense"):
            response = Client().post(f"/confirm-email/{bad}/")
            assert response.status_code == 400
        directory_record.refresh_from_db()
        assert directory_record.user is None


@pytest.mark.django_db
class TestSignUpMatchingNoRecord:
    def test_the_record_is_created_only_on_confirmation(
        self, anon_client, admin_client_api, directory_record
    ):
        sign_up(anon_client, username="newbie", email="newbie@example.com")
        assert not Customer.objects.filter(email="newbie@example.com").exists()
        everyone = admin_client_api.post("/api/audiences/preview/", {"audience": {}}, format="json")
        assert everyone.json()["count"] == 1  # the directory record only
        _, token = link_sent_to("newbie@example.com")
        Client().post(f"/confirm-email/{token}/")
        assert Customer.objects.get(email="newbie@example.com").user.username == "newbie"
        everyone = admin_client_api.post("/api/audiences/preview/", {"audience": {}}, format="json")
        assert everyone.json()["count"] == 2


@pytest.mark.django_db
class TestResend:
    def test_it_sends_a_fresh_link_that_works(self, anon_client, directory_record):
        customer = sign_up(anon_client)
        response = customer.post("/api/register/resend-confirmation/")
        assert response.status_code == 200
        assert response.json()["email"] == "owner@example.com"
        assert Message.objects.filter(to_address="owner@example.com").count() == 2
        _, token = link_sent_to("owner@example.com")
        assert Client().post(f"/confirm-email/{token}/").status_code == 200
        directory_record.refresh_from_db()
        assert directory_record.user.username == "mallory"

    def test_a_confirmed_account_has_nothing_to_resend(self, customer_client):
        response = customer_client.post("/api/register/resend-confirmation/")
        assert response.status_code == 409
        assert response.json()["code"] == "already_confirmed"

    def test_it_is_throttled(self, anon_client, directory_record):
        customer = sign_up(anon_client)
        codes = [customer.post("/api/register/resend-confirmation/").status_code for _ in range(6)]
        assert codes[:5] == [200] * 5
        assert codes[5] == 429
        assert Message.objects.filter(to_address="owner@example.com").count() == 6

    def test_anonymous_callers_are_refused(self, anon_client):
        assert anon_client.post("/api/register/resend-confirmation/").status_code == 401


@pytest.mark.django_db
class TestChangingMyEmail:
    def test_the_record_keeps_the_old_address_until_the_new_one_is_confirmed(
        self, customer_client, customer_user
    ):
        response = customer_client.patch(
            "/api/customers/me/", {"email": "Carol.New@example.com", "phone": "+79001112233"}
        )
        assert response.status_code == 200
        assert response.json()["email"] == "carol_customer@example.com"
        assert response.json()["pending_email"] == "carol.new@example.com"
        assert response.json()["phone"] == "+79001112233"
        customer_user.customer.refresh_from_db()
        assert customer_user.customer.email == "carol_customer@example.com"
        _, token = link_sent_to("carol.new@example.com")
        assert Client().post(f"/confirm-email/{token}/").status_code == 200
        customer_user.customer.refresh_from_db()
        customer_user.refresh_from_db()
        assert customer_user.customer.email == "carol.new@example.com"
        assert customer_user.email == "carol.new@example.com"
        me = customer_client.get("/api/customers/me/").json()
        assert (me["email"], me["pending_email"]) == ("carol.new@example.com", "")

    def test_a_link_for_one_address_cannot_confirm_a_later_one(
        self, customer_client, customer_user
    ):
        customer_client.patch("/api/customers/me/", {"email": "first@example.com"})
        _, first = link_sent_to("first@example.com")
        customer_client.patch("/api/customers/me/", {"email": "second@example.com"})
        assert Client().post(f"/confirm-email/{first}/").status_code == 400
        customer_user.customer.refresh_from_db()
        assert customer_user.customer.email == "carol_customer@example.com"

    def test_an_address_of_another_customer_is_refused(
        self, customer_client, customer_user, other_customer_user
    ):
        response = customer_client.patch(
            "/api/customers/me/", {"email": other_customer_user.customer.email}
        )
        assert response.status_code == 400
        assert "email" in response.json()
        customer_user.refresh_from_db()
        assert customer_user.pending_email == ""

    def test_the_portal_says_a_link_was_sent(self, web_client, customer_user):
        client = web_client(customer_user)
        data = {
            "email": "carol.portal@example.com",
            "timezone": "UTC",
            "contact_window_start": "08:00",
            "contact_window_end": "22:00",
            "email_opt_in": "on",
        }
        response = client.post("/portal/profile/", data, follow=True)
        assert "We emailed a confirmation link to carol.portal@example.com" in (
            response.content.decode()
        )
        customer_user.customer.refresh_from_db()
        assert customer_user.customer.email == "carol_customer@example.com"
        assert link_sent_to("carol.portal@example.com")


@pytest.mark.django_db
class TestPortalGate:
    def test_every_portal_page_asks_for_the_confirmation(self, web_client):
        unconfirmed = make_user("una", Role.CUSTOMER, email_confirmed_at=None)
        client = web_client(unconfirmed)
        for path in ("/portal/tickets/", "/portal/profile/", "/portal/tickets/new/"):
            page = client.get(path)
            assert page.status_code == 403, path
            assert "check your mailbox" in page.content.decode()
            assert "Send it again" in page.content.decode()

    def test_send_it_again_emails_a_new_link(self, web_client):
        unconfirmed = make_user("una", Role.CUSTOMER, email_confirmed_at=None)
        response = web_client(unconfirmed).post("/confirm-email/resend/", follow=True)
        assert "We sent a new confirmation link to una@example.com" in response.content.decode()
        assert link_sent_to("una@example.com")


@pytest.mark.django_db
class TestStaffLinkByHand:
    def test_an_engineer_links_an_account_and_it_is_recorded(
        self, engineer_client, engineer, directory_record
    ):
        account = make_user("owner", Role.CUSTOMER, email_confirmed_at=None)
        response = engineer_client.post(
            f"/api/customers/{directory_record.pk}/link-user/", {"user": account.pk}
        )
        assert response.status_code == 200, response.content
        directory_record.refresh_from_db()
        assert directory_record.user == account
        assert client_for(account).get("/api/customers/me/").status_code == 200
        entry = LogEntry.objects.get(object_id=str(directory_record.pk))
        assert entry.user == engineer
        assert "owner" in entry.change_message

    def test_a_record_linked_to_someone_else_is_a_conflict(
        self, engineer_client, customer_user, other_customer_user
    ):
        response = engineer_client.post(
            f"/api/customers/{customer_user.customer.pk}/link-user/",
            {"user": other_customer_user.pk},
        )
        assert response.status_code == 409
        customer_user.customer.refresh_from_db()
        assert customer_user.customer.user == customer_user

    def test_only_customer_accounts_can_be_linked(
        self, engineer_client, engineer, directory_record
    ):
        response = engineer_client.post(
            f"/api/customers/{directory_record.pk}/link-user/", {"user": engineer.pk}
        )
        assert response.status_code == 400
        assert "user" in response.json()

    def test_customers_cannot_link(self, customer_client, directory_record, customer_user):
        response = customer_client.post(
            f"/api/customers/{directory_record.pk}/link-user/", {"user": customer_user.pk}
        )
        assert response.status_code == 403
        directory_record.refresh_from_db()
        assert directory_record.user is None

    def test_the_admin_links_by_hand_too(self, admin_user, directory_record):
        account = make_user("owner", Role.CUSTOMER, email_confirmed_at=None)
        admin_user.is_staff = admin_user.is_superuser = True
        admin_user.save()
        client = Client()
        client.force_login(admin_user)
        form = client.get(f"/admin/customers/customer/{directory_record.pk}/change/")
        assert form.status_code == 200
        data = {
            "account_number": "ACC-7",
            "name": "Owner Ltd",
            "email": "owner@example.com",
            "phone": "+79001234567",
            "timezone": "UTC",
            "contact_window_start": "08:00",
            "contact_window_end": "22:00",
            "email_opt_in": "on",
            "sms_opt_in": "on",
            "is_active": "on",
            "user": account.pk,
        }
        response = client.post(f"/admin/customers/customer/{directory_record.pk}/change/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        directory_record.refresh_from_db()
        assert directory_record.user == account
        account.refresh_from_db()
        assert account.email_confirmed_at is not None
        assert LogEntry.objects.filter(change_message__contains="by hand").exists()


@pytest.mark.django_db
def test_accounts_from_before_confirmation_existed_are_marked_confirmed():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0004_existing_accounts_confirmed")
    old = make_user("old_customer", Role.CUSTOMER, email_confirmed_at=None)
    migration.mark_existing_confirmed(apps, None)
    old.refresh_from_db()
    assert old.email_confirmed_at is not None
    assert client_for(old).get("/api/tickets/").status_code == 200
