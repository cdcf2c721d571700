import pytest

from accounts.models import ApprovalStatus, User
from accounts.services import SELF_DEMOTION_SENTENCE
from conftest import client_for
from customers.models import Customer

PASSWORD = "correct horse battery staple"


@pytest.mark.django_db
class TestSignIn:
    def test_it_signs_an_engineer_in_and_shows_the_dashboard(self, client, engineer):
        response = client.post("/login/", {"username": engineer.username, "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == "/"
        page = client.get("/")
        assert page.status_code == 200
        assert b"<h1>Dashboard</h1>" in page.content

    def test_it_sends_a_customer_to_the_portal(self, client, customer_user):
        response = client.post(
            "/login/", {"username": customer_user.username, "password": PASSWORD}
        )
        assert response["Location"] == "/portal/tickets/"

    def test_it_tells_a_pending_engineer_why_they_cannot_sign_in(self, client, pending_engineer):
        response = client.post(
            "/login/", {"username": pending_engineer.username, "password": PASSWORD}
        )
        assert response.status_code == 403
        assert "waiting for an administrator" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_it_says_the_password_is_wrong(self, client, engineer):
        response = client.post("/login/", {"username": engineer.username, "password": "nope"})
        assert response.status_code == 400
        assert "username or password is wrong" in response.content.decode()

    def test_it_locks_out_after_repeated_failures(self, client, engineer, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post("/login/", {"username": engineer.username, "password": "nope"})
        response = client.post("/login/", {"username": engineer.username, "password": PASSWORD})
        assert response.status_code == 429
        assert "locked" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_it_follows_a_safe_next_only(self, client, engineer):
        ok = client.post(
            "/login/?next=/customers/", {"username": engineer.username, "password": PASSWORD}
        )
        assert ok["Location"] == "/customers/"
        client.logout()
        evil = client.post(
            "/login/?next=https://evil.example/",
            {"username": engineer.username, "password": PASSWORD},
        )
        assert evil["Location"] == "/"

    def test_visiting_the_sign_out_address_asks_first(self, web_client, engineer, client):
        signed_in = web_client(engineer)
        page = signed_in.get("/logout/")
        assert page.status_code == 200 and "Sign out now" in page.content.decode()
        assert signed_in.get("/").status_code == 200
        assert client.get("/logout/")["Location"] == "/login/"

    def test_sign_out_ends_the_session(self, web_client, engineer):
        client = web_client(engineer)
        assert client.post("/logout/")["Location"] == "/login/"
        assert client.get("/")["Location"].startswith("/login/")


@pytest.mark.django_db
class TestSignUp:
    def test_a_customer_is_signed_in_and_asked_to_confirm_their_address(self, client):
        response = client.post(
            "/signup/",
            {
                "role": "customer",
                "username": "newbie",
                "email": "newbie@example.com",
                "password": PASSWORD,
                "first_name": "New",
                "last_name": "Bie",
            },
        )
        assert response["Location"] == "/portal/tickets/"
        user = User.objects.get(username="newbie")
        assert not Customer.objects.filter(user=user).exists()
        assert client.session["_auth_user_id"] == str(user.pk)
        portal = client.get("/portal/tickets/")
        assert portal.status_code == 403
        assert "open the link we emailed you" in portal.content.decode()
        assert "newbie@example.com" in portal.content.decode()

    def test_an_engineer_waits_for_approval(self, client):
        response = client.post(
            "/signup/",
            {
                "role": "engineer",
                "username": "newtech",
                "email": "newtech@example.com",
                "password": PASSWORD,
            },
        )
        assert response.status_code == 200
        assert "must approve" in response.content.decode()
        assert User.objects.get(username="newtech").approval_status == ApprovalStatus.PENDING
        assert "_auth_user_id" not in client.session

    def test_it_shows_the_apis_validation_errors_and_stores_nothing(self, client, engineer):
        response = client.post(
            "/signup/",
            {
                "role": "customer",
                "username": engineer.username,
                "email": "x@example.com",
                "password": "123",
            },
        )
        assert response.status_code == 400
        assert "This username is taken" in response.content.decode()
        weak = client.post(
            "/signup/",
            {"role": "customer", "username": "fresh", "email": "x@example.com", "password": "123"},
        )
        assert weak.status_code == 400
        assert "too short" in weak.content.decode()
        assert User.objects.count() == 1

    def test_nobody_can_sign_up_as_admin(self, client):
        response = client.post(
            "/signup/",
            {"role": "admin", "username": "sneaky", "email": "s@example.com", "password": PASSWORD},
        )
        assert response.status_code == 400
        assert not User.objects.filter(username="sneaky").exists()


@pytest.mark.django_db
class TestRegistrationRequests:
    def test_an_admin_approves_a_pending_engineer_who_can_then_sign_in(
        self, web_client, admin_user, pending_engineer, client, mailoutbox
    ):
        admin = web_client(admin_user)
        page = admin.get("/users/requests/")
        assert pending_engineer.username in page.content.decode()
        response = admin.post(f"/users/requests/{pending_engineer.pk}/approve/", {"reason": "ok"})
        assert response["Location"] == "/users/requests/"
        pending_engineer.refresh_from_db()
        assert pending_engineer.approval_status == ApprovalStatus.APPROVED
        assert pending_engineer.approved_by == admin_user
        login = client.post(
            "/login/", {"username": pending_engineer.username, "password": PASSWORD}
        )
        assert login["Location"] == "/"

    def test_an_admin_rejects_with_a_reason(self, web_client, admin_user, pending_engineer):
        web_client(admin_user).post(
            f"/users/requests/{pending_engineer.pk}/reject/", {"reason": "Unknown person"}
        )
        pending_engineer.refresh_from_db()
        assert pending_engineer.approval_status == ApprovalStatus.REJECTED
        assert pending_engineer.approval_note == "Unknown person"

    def test_an_unknown_decision_is_404_and_changes_nothing(
        self, web_client, admin_user, pending_engineer
    ):
        response = web_client(admin_user).post(f"/users/requests/{pending_engineer.pk}/maybe/")
        assert response.status_code == 404
        pending_engineer.refresh_from_db()
        assert pending_engineer.approval_status == ApprovalStatus.PENDING

    def test_an_engineer_cannot_decide(self, web_client, engineer, pending_engineer):
        response = web_client(engineer).post(f"/users/requests/{pending_engineer.pk}/approve/")
        assert response.status_code == 403
        pending_engineer.refresh_from_db()
        assert pending_engineer.approval_status == ApprovalStatus.PENDING


@pytest.mark.django_db
class TestUsers:
    def test_an_admin_filters_and_changes_roles(
        self, web_client, admin_user, engineer, customer_user
    ):
        admin = web_client(admin_user)
        page = admin.get("/users/?role=customer").content.decode()
        assert customer_user.username in page
        assert engineer.username not in page
        admin.post(f"/users/{engineer.pk}/", {"role": "admin", "is_active": "false"})
        engineer.refresh_from_db()
        assert engineer.role == "admin"
        assert not engineer.is_active

    def test_an_admin_cannot_deactivate_themself(self, web_client, admin_user):
        page = web_client(admin_user).post(
            f"/users/{admin_user.pk}/", {"role": "admin", "is_active": "false"}, follow=True
        )
        admin_user.refresh_from_db()
        assert admin_user.is_active
        api = client_for(admin_user).patch(
            f"/api/users/{admin_user.pk}/", {"is_active": False}, format="json"
        )
        # The page and the API give the service's one sentence.
        assert api.status_code == 409 and api.json()["detail"] == SELF_DEMOTION_SENTENCE
        assert SELF_DEMOTION_SENTENCE in page.content.decode()
        admin_user.refresh_from_db()
        assert admin_user.is_active


@pytest.mark.django_db
def test_an_admin_sets_an_engineers_availability_and_limit(web_client, admin_user, engineer):
    client = web_client(admin_user)
    client.post(
        f"/users/{engineer.pk}/",
        {"role": "engineer", "is_active": "true", "is_available": "false", "max_open_tickets": "3"},
    )
    engineer.refresh_from_db()
    assert not engineer.is_available
    assert engineer.max_open_tickets == 3
    bad = client.post(f"/users/{engineer.pk}/", {"max_open_tickets": "-2"}, follow=True)
    assert "whole number from 1 to 1000" in bad.content.decode()
    engineer.refresh_from_db()
    assert engineer.max_open_tickets == 3
