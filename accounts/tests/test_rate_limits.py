"""Rate limits and the sign-in lockout, facing clients directly and behind a
reverse proxy: neither can be dodged with a forged X-Forwarded-For, and behind
the proxy they key on the real client, not on the proxy's address."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User

PASSWORD = "correct horse battery staple"
PROXY = "10.0.0.2"


def api_login(client, username: str, password: str, **meta):
    return client.post(
        "/api/login/",
        {"username": username, "password": password},
        content_type="application/json",
        **meta,
    )


def through_proxy(client_address: str, claimed: str = "") -> dict:
    """What the proxy passes on: it appends the address it saw to the client's header."""
    forwarded = f"{claimed}, {client_address}" if claimed else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


@pytest.fixture
def tight_limits(settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "3/min", "signup": "2/min"}


@pytest.mark.django_db
class TestFacingClientsDirectly:
    def test_a_forged_forwarded_for_does_not_reset_the_login_limit(self, tight_limits, engineer):
        client = Client()
        codes = [
            api_login(
                client, engineer.username, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
            ).status_code
            for n in range(4)
        ]
        assert codes == [400, 400, 400, 429]
        refused = api_login(client, engineer.username, PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4")
        assert refused.status_code == 429
        assert refused.json()["code"] == "throttled"

    def test_a_forged_forwarded_for_does_not_dodge_the_lockout(self, engineer, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "100/min"}
        client = Client()
        for n in range(settings.AXES_FAILURE_LIMIT):
            api_login(client, engineer.username, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        response = api_login(
            client, engineer.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.200"
        )
        assert response.status_code == 429
        assert response.json()["code"] == "locked_out"

    def test_api_sign_up_and_website_sign_up_share_one_limit(self, tight_limits):
        client = Client()
        for n in range(2):
            response = client.post(
                "/api/register/",
                {
                    "username": f"spam{n}",
                    "email": f"spam{n}@example.com",
                    "password": "a sturdy pass phrase 42",
                    "role": "customer",
                },
                content_type="application/json",
                HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
            )
            assert response.status_code == 201
        page = client.post(
            "/signup/",
            {
                "role": "customer",
                "username": "spam9",
                "email": "spam9@example.com",
                "password": "a sturdy pass phrase 42",
            },
            HTTP_X_FORWARDED_FOR="192.0.2.99",
        )
        assert page.status_code == 429
        assert "Too many attempts" in page.content.decode()
        assert not User.objects.filter(username="spam9").exists()
        api = client.post(
            "/api/register/",
            {"username": "spam8", "email": "s8@example.com", "password": "x", "role": "customer"},
            content_type="application/json",
        )
        assert api.status_code == 429

    def test_the_website_sign_in_is_limited_too(self, tight_limits, engineer):
        client = Client()
        for _ in range(3):
            client.post("/login/", {"username": engineer.username, "password": "wrong"})
        page = client.post("/login/", {"username": engineer.username, "password": PASSWORD})
        assert page.status_code == 429
        assert "Too many attempts" in page.content.decode()
        assert "_auth_user_id" not in client.session


@pytest.mark.django_db
class TestBehindOneProxy:
    @pytest.fixture(autouse=True)
    def one_proxy(self, settings):
        settings.TRUSTED_PROXY_COUNT = 1

    def test_each_client_has_its_own_login_limit(self, tight_limits, engineer):
        client = Client()
        for _ in range(3):
            api_login(client, engineer.username, "wrong", **through_proxy("198.51.100.7"))
        assert (
            api_login(client, engineer.username, "wrong", **through_proxy("198.51.100.7"))
        ).status_code == 429
        # Another customer behind the same proxy is not held up.
        response = api_login(client, engineer.username, PASSWORD, **through_proxy("203.0.113.5"))
        assert response.status_code == 200

    def test_a_client_cannot_pose_as_another_by_writing_the_header_itself(
        self, tight_limits, engineer
    ):
        client = Client()
        for n in range(3):
            api_login(
                client,
                engineer.username,
                "wrong",
                **through_proxy("198.51.100.7", claimed=f"192.0.2.{n}"),
            )
        response = api_login(
            client, engineer.username, "wrong", **through_proxy("198.51.100.7", claimed="1.1.1.1")
        )
        assert response.status_code == 429

    def test_an_attacker_cannot_lock_the_admin_out(self, admin_user, settings):
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT + 2):
            api_login(
                client,
                admin_user.username,
                "wrong",
                **through_proxy("198.51.100.7", claimed="203.0.113.5"),
            )
        attacker = api_login(client, admin_user.username, PASSWORD, **through_proxy("198.51.100.7"))
        assert attacker.status_code == 429
        assert attacker.json()["code"] == "locked_out"
        admin = api_login(client, admin_user.username, PASSWORD, **through_proxy("203.0.113.5"))
        assert admin.status_code == 200


def test_the_proxy_count_drives_drfs_num_proxies():
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT


@pytest.mark.django_db
def test_the_resend_action_is_limited_on_the_website(settings):
    from django.contrib.auth import get_user_model

    from conftest import make_user

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "confirmation_resend": "1/hour"}
    user = make_user("una", "customer", email_confirmed_at=None)
    assert get_user_model().objects.get(pk=user.pk).email_unconfirmed
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
    first = client.post("/confirm-email/resend/", follow=True)
    assert "We sent a new confirmation link" in first.content.decode()
    second = client.post("/confirm-email/resend/", follow=True)
    assert "Too many attempts" in second.content.decode()
