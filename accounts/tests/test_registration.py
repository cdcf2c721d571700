import pytest

from accounts.models import User
from customers.models import Customer

GOOD = {
    "username": "newbie",
    "email": "newbie@example.com",
    "password": "a sturdy pass phrase 42",
    "role": "engineer",
    "first_name": "New",
}


@pytest.mark.django_db
class TestRegister:
    def test_an_engineer_starts_pending(self, anon_client):
        response = anon_client.post("/api/register/", GOOD)
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["approval_status"] == "pending"
        assert body["role"] == "engineer"
        assert "password" not in body
        login = anon_client.post(
            "/api/login/", {"username": "newbie", "password": GOOD["password"]}
        )
        assert login.status_code == 403
        assert login.json()["code"] == "approval_pending"

    def test_a_customer_is_approved_but_not_linked_until_they_confirm(self, anon_client):
        existing = Customer.objects.create(
            account_number="ACC-1", name="Newbie Ltd", email="newbie@example.com"
        )
        response = anon_client.post(
            "/api/register/", {**GOOD, "role": "customer", "email": "NEWBIE@example.com"}
        )
        assert response.status_code == 201
        assert response.json()["approval_status"] == "approved"
        assert response.json()["email_confirmed"] is False
        existing.refresh_from_db()
        assert existing.user is None
        login = anon_client.post(
            "/api/login/", {"username": "newbie", "password": GOOD["password"]}
        )
        assert login.status_code == 200

    @pytest.mark.parametrize(
        "change,field",
        [
            ({"username": "taken"}, "username"),
            ({"email": "taken@example.com"}, "email"),
            ({"password": "123"}, "password"),
            ({"password": "password"}, "password"),
            ({"role": "wizard"}, "role"),
            ({"email": "not-an-email"}, "email"),
            ({"username": ""}, "username"),
        ],
    )
    def test_it_rejects_bad_input_naming_the_field(self, anon_client, change, field):
        from django.utils import timezone

        User.objects.create_user(
            username="taken",
            email="taken@example.com",
            password="x",
            email_confirmed_at=timezone.now(),
        )
        before = User.objects.count()
        response = anon_client.post("/api/register/", {**GOOD, **change})
        assert response.status_code == 400
        assert field in response.json()
        assert response.json()[field][0]
        assert User.objects.count() == before
        assert not Customer.objects.exists()


@pytest.fixture
def decide(admin_client_api, pending_engineer, django_capture_on_commit_callbacks):
    """An administrator approves or rejects the pending engineer, giving a reason."""

    def decide(decision: str, reason: str):
        with django_capture_on_commit_callbacks(execute=True):
            return admin_client_api.post(
                f"/api/users/{pending_engineer.pk}/{decision}/", {"reason": reason}
            )

    return decide


def _sign_in(client, user: User):
    return client.post(
        "/api/login/", {"username": user.username, "password": "correct horse battery staple"}
    )


@pytest.mark.django_db
class TestApproval:
    def test_approving_lets_the_engineer_sign_in_and_emails_them(
        self, decide, pending_engineer, anon_client, mailoutbox
    ):
        response = decide("approve", "Welcome aboard")
        assert response.status_code == 200
        assert response.json()["approval_status"] == "approved"
        assert len(mailoutbox) == 1
        assert mailoutbox[0].to == [pending_engineer.email]
        assert "approved" in mailoutbox[0].subject
        assert "Welcome aboard" in mailoutbox[0].body
        assert _sign_in(anon_client, pending_engineer).status_code == 200

    def test_rejecting_tells_the_applicant_why(
        self, decide, pending_engineer, anon_client, mailoutbox
    ):
        decide("reject", "Unknown to us")
        assert "rejected" in mailoutbox[0].subject
        assert "Unknown to us" in mailoutbox[0].body
        login = _sign_in(anon_client, pending_engineer)
        assert login.status_code == 403
        assert login.json()["code"] == "approval_rejected"

    def test_registration_requests_lists_only_pending_staff(
        self, admin_client_api, pending_engineer, engineer, customer_user
    ):
        body = admin_client_api.get("/api/users/registration-requests/").json()
        assert [u["username"] for u in body["results"]] == [pending_engineer.username]
        assert body["count"] == 1

    def test_users_list_filters_by_role_and_status(
        self, admin_client_api, pending_engineer, engineer, customer_user
    ):
        body = admin_client_api.get("/api/users/?role=engineer&approval_status=approved").json()
        assert [u["username"] for u in body["results"]] == [engineer.username]
        body = admin_client_api.get("/api/users/?search=carol").json()
        assert [u["username"] for u in body["results"]] == [customer_user.username]

    def test_an_admin_changes_a_role(self, admin_client_api, engineer):
        response = admin_client_api.patch(
            f"/api/users/{engineer.pk}/", {"role": "admin"}, format="json"
        )
        assert response.status_code == 200
        engineer.refresh_from_db()
        assert engineer.role == "admin"

    def test_an_unknown_role_is_refused(self, admin_client_api, engineer):
        response = admin_client_api.patch(
            f"/api/users/{engineer.pk}/", {"role": "wizard"}, format="json"
        )
        assert response.status_code == 400
        engineer.refresh_from_db()
        assert engineer.role == "engineer"


@pytest.mark.django_db
def test_deactivated_users_are_told_so(anon_client, engineer):
    engineer.is_active = False
    engineer.save()
    response = anon_client.post(
        "/api/login/", {"username": engineer.username, "password": "correct horse battery staple"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "inactive"
    assert "deactivated" in response.json()["detail"]


@pytest.mark.django_db
def test_createsuperuser_makes_an_approved_admin(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a sturdy pass phrase 42")
    call_command("createsuperuser", "--noinput", username="root", email="root@example.com")
    user = User.objects.get(username="root")
    assert user.role == "admin"
    assert user.approval_status == "approved"
    assert user.is_admin
