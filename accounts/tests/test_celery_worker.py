"""A task enqueued through the broker is picked up and run by a real worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from conftest import wait_until


def _expired_token(user):
    return ApiToken.objects.create(
        user=user,
        key_hash=ApiToken.hash_key(ApiToken.new_key()),
        prefix="expired0",
        expires_at=timezone.now() - timedelta(days=1),
    )


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_through_the_embedded_filesystem_broker(engineer, start_worker):
    token = _expired_token(engineer)
    worker = start_worker(broker_url="filesystem://")
    worker.send("accounts.tasks.purge_expired_tokens")
    wait_until(lambda: not ApiToken.objects.filter(pk=token.pk).exists(), timeout=60)
    wait_until(lambda: "expired API tokens removed count=1" in worker.log(), timeout=10)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_through_redis(engineer, start_worker, redis_url):
    token = _expired_token(engineer)
    worker = start_worker(broker_url=redis_url)
    worker.send("accounts.tasks.purge_expired_tokens")
    wait_until(lambda: not ApiToken.objects.filter(pk=token.pk).exists(), timeout=60)
    wait_until(lambda: "expired API tokens removed count=1" in worker.log(), timeout=10)
