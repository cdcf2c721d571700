"""Shared test fixtures: named people (admin, engineers, customers, an
outsider), API clients signed in as each, and the gates for integration
tests that need the real PostgreSQL and Redis."""

import os
import socket

import pytest
from rest_framework.test import APIClient

from accounts.models import ApprovalStatus, Role, User

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unavailable(reason: str):
    """Skip locally with a visible reason; in CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true requires it)")
    pytest.skip(reason)


@pytest.fixture
def postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: runs in the PostgreSQL pass of `make test` (DATABASE_URL=postgres://…)"
        )
    return connection


@pytest.fixture
def redis_url():
    if not _reachable("127.0.0.1", 6379):
        unavailable("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


def make_user(username: str, role: str, approval=ApprovalStatus.APPROVED, **extra) -> User:
    return User.objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password="correct horse battery staple",
        role=role,
        approval_status=approval,
        **extra,
    )


@pytest.fixture
def admin_user(db):
    return make_user("alice_admin", Role.ADMIN, first_name="Alice")


@pytest.fixture
def engineer(db):
    return make_user("eric_engineer", Role.ENGINEER, first_name="Eric")


@pytest.fixture
def other_engineer(db):
    return make_user("yuri_engineer", Role.ENGINEER, first_name="Yuri")


@pytest.fixture
def pending_engineer(db):
    return make_user("pat_pending", Role.ENGINEER, approval=ApprovalStatus.PENDING)


@pytest.fixture
def customer_user(db):
    from customers.services import customer_link_user

    user = make_user("carol_customer", Role.CUSTOMER, first_name="Carol")
    customer_link_user(user=user)
    return user


@pytest.fixture
def other_customer_user(db):
    from customers.services import customer_link_user

    user = make_user("dave_customer", Role.CUSTOMER, first_name="Dave")
    customer_link_user(user=user)
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        from accounts.services import token_issue

        client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def admin_client_api(admin_user):
    return client_for(admin_user)


@pytest.fixture
def engineer_client(engineer):
    return client_for(engineer)


@pytest.fixture
def customer_client(customer_user):
    return client_for(customer_user)


_skipped_integration: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and "integration" in report.keywords:
        _skipped_integration.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("PROACTIVE_REQUIRE_INTEGRATION") == "1" and _skipped_integration:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"FAILED: {len(_skipped_integration)} integration test(s) were skipped "
                "in the PostgreSQL pass: " + ", ".join(_skipped_integration[:10]),
                red=True,
            )
        session.exitstatus = 1
