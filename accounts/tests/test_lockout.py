from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings

PASSWORD = "correct horse battery staple"


def _login(client, user, password):
    return client.post("/api/login/", {"username": user.username, "password": password})


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_then_it_unlocks(anon_client, engineer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(anon_client, engineer, "wrong").status_code == 400
    response = _login(anon_client, engineer, "wrong")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"

    # Even the right password is refused while locked, with a clear sentence.
    response = _login(anon_client, engineer, PASSWORD)
    assert response.status_code == 429
    assert "locked" in response.json()["detail"]

    # Once the cool-off time has passed, the right password works again.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(minutes=1)
    )
    assert _login(anon_client, engineer, PASSWORD).status_code == 200


@pytest.mark.django_db
def test_one_success_resets_the_failure_count(anon_client, engineer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(anon_client, engineer, "wrong")
    assert _login(anon_client, engineer, PASSWORD).status_code == 200
    assert _login(anon_client, engineer, "wrong").status_code == 400
