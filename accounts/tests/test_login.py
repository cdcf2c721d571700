import pytest

from accounts.models import ApiToken

PASSWORD = "correct horse battery staple"


@pytest.mark.django_db
class TestLogin:
    def test_it_returns_a_token_that_authenticates(self, anon_client, engineer):
        response = anon_client.post(
            "/api/login/", {"username": engineer.username, "password": PASSWORD}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["user"]["username"] == engineer.username
        assert body["expires_at"]
        anon_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
        assert anon_client.get("/api/me/").json()["id"] == engineer.id

    def test_it_stores_only_the_hash_of_the_key(self, anon_client, engineer):
        key = anon_client.post(
            "/api/login/", {"username": engineer.username, "password": PASSWORD}
        ).json()["token"]
        assert not ApiToken.objects.filter(key_hash=key).exists()
        assert ApiToken.objects.filter(key_hash=ApiToken.hash_key(key)).exists()

    def test_it_rejects_wrong_credentials_with_400(self, anon_client, engineer):
        response = anon_client.post(
            "/api/login/", {"username": engineer.username, "password": "nope"}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_credentials"

    def test_it_tells_a_pending_engineer_to_wait(self, anon_client, pending_engineer):
        response = anon_client.post(
            "/api/login/", {"username": pending_engineer.username, "password": PASSWORD}
        )
        assert response.status_code == 403
        assert response.json()["code"] == "approval_pending"
        assert "approval" in response.json()["detail"]
        assert not ApiToken.objects.filter(user=pending_engineer).exists()
