"""Sessions and tokens end when they should: a rejected or deactivated
account loses everything at once, "sign out everywhere" and a password change
revoke the other sessions and tokens, and an administrator cannot take their
own administration away through the API."""

import pytest
from django.test import Client

from accounts.models import ApiToken, ApprovalStatus
from accounts.services import token_issue
from conftest import client_for

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new sturdy phrase 77"


def session_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
    return client


def token_client(key: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
class TestRejectedOrDeactivatedCustomers:
    @pytest.mark.parametrize(
        "change", [{"approval_status": ApprovalStatus.REJECTED}, {"is_active": False}]
    )
    def test_they_lose_their_record_over_an_existing_session_and_token(
        self, customer_user, admin_client_api, change
    ):
        browser = session_for(customer_user)
        api = client_for(customer_user)
        assert browser.get("/api/customers/me/").status_code == 200
        assert api.get("/api/customers/me/").status_code == 200
        response = admin_client_api.patch(f"/api/users/{customer_user.pk}/", change)
        assert response.status_code == 200
        for client in (browser, api):
            refused = client.get("/api/customers/me/")
            assert refused.status_code in (401, 403)
            assert "account_number" not in refused.json()
            assert client.get("/api/tickets/").status_code in (401, 403)
        assert browser.get("/portal/profile/").status_code in (302, 403)


@pytest.mark.django_db
class TestSignOutEverywhere:
    def test_it_revokes_every_token_and_session(self, customer_user):
        first, second = token_issue(user=customer_user).key, token_issue(user=customer_user).key
        browser = session_for(customer_user)
        assert browser.get("/api/me/").status_code == 200
        response = token_client(first).post("/api/logout/all/")
        assert response.status_code == 204
        assert not ApiToken.objects.filter(user=customer_user).exists()
        assert token_client(second).get("/api/me/").status_code == 401
        assert browser.get("/api/me/").status_code in (401, 403)
        assert browser.get("/portal/tickets/")["Location"].startswith("/login/")

    def test_the_website_button_signs_out_here_and_everywhere_else(self, engineer):
        here, elsewhere = session_for(engineer), session_for(engineer)
        key = token_issue(user=engineer).key
        page = here.get("/me/security/")
        assert page.status_code == 200
        assert "Sign out everywhere" in page.content.decode()
        response = here.post("/me/security/sign-out-everywhere/")
        assert response["Location"] == "/login/"
        for client in (here, elsewhere):
            assert client.get("/tickets/")["Location"].startswith("/login/")
        assert token_client(key).get("/api/me/").status_code == 401

    def test_anonymous_callers_are_refused(self, anon_client):
        assert anon_client.post("/api/logout/all/").status_code == 401


@pytest.mark.django_db
class TestPasswordChange:
    def test_it_keeps_this_token_and_signs_out_the_others(self, customer_user, anon_client):
        this, other = token_issue(user=customer_user).key, token_issue(user=customer_user).key
        browser = session_for(customer_user)
        response = token_client(this).post(
            "/api/me/password/",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert token_client(this).get("/api/customers/me/").status_code == 200
        assert token_client(other).get("/api/me/").status_code == 401
        assert browser.get("/api/me/").status_code in (401, 403)
        old = anon_client.post("/api/login/", {"username": "carol_customer", "password": PASSWORD})
        assert old.status_code == 400
        new = anon_client.post(
            "/api/login/", {"username": "carol_customer", "password": NEW_PASSWORD}
        )
        assert new.status_code == 200

    @pytest.mark.parametrize(
        "body,field",
        [
            ({"current_password": "wrong", "new_password": NEW_PASSWORD}, "current_password"),
            ({"current_password": PASSWORD, "new_password": "123"}, "new_password"),
            ({"current_password": PASSWORD, "new_password": "password"}, "new_password"),
            ({"current_password": PASSWORD}, "new_password"),
        ],
    )
    def test_it_refuses_naming_the_field_and_changes_nothing(
        self, customer_user, customer_client, body, field
    ):
        other = token_issue(user=customer_user).key
        response = customer_client.post("/api/me/password/", body, format="json")
        assert response.status_code == 400
        assert response.json()[field][0]
        customer_user.refresh_from_db()
        assert customer_user.check_password(PASSWORD)
        assert token_client(other).get("/api/me/").status_code == 200

    def test_guessing_the_current_password_is_limited(self, customer_client, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_change": "2/hour"}
        body = {"current_password": "guess", "new_password": NEW_PASSWORD}
        codes = [
            customer_client.post("/api/me/password/", body, format="json").status_code
            for _ in range(3)
        ]
        assert codes == [400, 400, 429]

    def test_the_website_page_changes_it_and_keeps_this_session(self, engineer):
        here, elsewhere = session_for(engineer), session_for(engineer)
        key = token_issue(user=engineer).key
        response = here.post(
            "/me/security/",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            follow=True,
        )
        assert "Your password is changed" in response.content.decode()
        assert here.get("/tickets/").status_code == 200
        assert elsewhere.get("/tickets/")["Location"].startswith("/login/")
        assert token_client(key).get("/api/me/").status_code == 401

    def test_the_website_says_when_the_current_password_is_wrong(self, engineer):
        page = session_for(engineer).post(
            "/me/security/", {"current_password": "nope", "new_password": NEW_PASSWORD}
        )
        assert page.status_code == 400
        assert "current password is wrong" in page.content.decode()
        engineer.refresh_from_db()
        assert engineer.check_password(PASSWORD)


@pytest.mark.django_db
class TestAdminsKeepTheirOwnAdministration:
    @pytest.mark.parametrize(
        "change",
        [{"is_active": False}, {"role": "engineer"}, {"approval_status": "pending"}],
    )
    def test_the_api_refuses_demoting_oneself(self, admin_client_api, admin_user, change):
        response = admin_client_api.patch(f"/api/users/{admin_user.pk}/", change)
        assert response.status_code == 409
        assert response.json()["code"] == "self_demotion"
        assert "another administrator" in response.json()["detail"]
        admin_user.refresh_from_db()
        assert (admin_user.is_active, admin_user.role, admin_user.approval_status) == (
            True,
            "admin",
            "approved",
        )

    def test_another_admin_may_demote_them(self, admin_client_api, admin_user):
        from conftest import make_user

        other = make_user("bob_admin", "admin")
        response = admin_client_api.patch(f"/api/users/{other.pk}/", {"role": "engineer"})
        assert response.status_code == 200
        other.refresh_from_db()
        assert other.role == "engineer"

    def test_an_admin_still_edits_their_own_time_zone(self, admin_client_api, admin_user):
        response = admin_client_api.patch(
            f"/api/users/{admin_user.pk}/", {"timezone": "Europe/Moscow", "is_active": True}
        )
        assert response.status_code == 200
