import pytest
from django.test import Client


@pytest.fixture
def web_client():
    """A browser-like client (sessions and CSRF cookies) for the website."""

    def make(user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(
                user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend"
            )
        return client

    return make
