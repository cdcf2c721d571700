"""Who may call which accounts endpoint: anonymous, customer, pending
engineer (who never got a token), approved engineer, admin."""

import pytest

from conftest import client_for

ADMIN_ONLY = [
    ("get", "/api/users/"),
    ("get", "/api/users/{target}/"),
    ("patch", "/api/users/{target}/"),
    ("post", "/api/users/{target}/approve/"),
    ("post", "/api/users/{target}/reject/"),
    ("get", "/api/users/registration-requests/"),
]
AUTHENTICATED = [("get", "/api/me/"), ("post", "/api/logout/")]


@pytest.fixture
def people(admin_user, engineer, customer_user, pending_engineer):
    return {
        "anonymous": None,
        "customer": customer_user,
        "pending engineer": pending_engineer,
        "engineer": engineer,
        "admin": admin_user,
    }


def _call(client, method, url, target):
    return getattr(client, method)(url.format(target=target.pk), {}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", ADMIN_ONLY)
def test_only_an_admin_manages_users(people, pending_engineer, method, url):
    expected = {
        "anonymous": 401,
        "customer": 403,
        "pending engineer": 401,
        "engineer": 403,
    }
    for who, status in expected.items():
        user = people[who]
        client = client_for(user) if who != "pending engineer" else client_for(None)
        response = _call(client, method, url, pending_engineer)
        assert response.status_code == status, (who, method, url, response.content)
    response = _call(client_for(people["admin"]), method, url, pending_engineer)
    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", AUTHENTICATED)
def test_signed_in_endpoints_refuse_anonymous(people, method, url):
    response = getattr(client_for(None), method)(url)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    for who in ("customer", "engineer", "admin"):
        response = getattr(client_for(people[who]), method)(url)
        assert response.status_code in (200, 204), (who, url)


@pytest.mark.django_db
def test_a_token_stops_working_when_its_owner_is_unapproved(admin_user, engineer):
    client = client_for(engineer)
    assert client.get("/api/me/").status_code == 200
    client_for(admin_user).patch(
        f"/api/users/{engineer.pk}/", {"approval_status": "pending"}, format="json"
    )
    assert client.get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_a_deactivated_user_loses_api_access(admin_user, engineer):
    client = client_for(engineer)
    response = client_for(admin_user).patch(
        f"/api/users/{engineer.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert client.get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_logout_revokes_the_token(engineer):
    client = client_for(engineer)
    assert client.post("/api/logout/").status_code == 204
    assert client.get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_an_expired_token_is_refused(engineer):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import ApiToken

    client = client_for(engineer)
    ApiToken.objects.filter(user=engineer).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
