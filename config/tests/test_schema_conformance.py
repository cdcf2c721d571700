"""Schemathesis against the live test server: every operation of the served
schema (so endpoints added later are covered without touching this file),
as admin, engineer, customer and anonymous. No response may be a server
error, and every response must match what the schema declares for it:
status code, content type and body.

Each role gets a fresh world (its own people, directory, notification,
ticket, comment and attachment), and every example a fresh token with the
caller's account put back as it was, so an example that logs out, demotes
or deactivates the caller (or deletes what the next one would read) does not
turn the rest of the run into 401s. No operation is excluded.

Examples are bounded and derandomized (the same inputs on every run) so the
whole module stays within a few minutes on two cores; SCHEMATHESIS_EXAMPLES
raises the bound for a deeper local run."""

import os
import time
from collections import defaultdict

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from accounts.models import ApprovalStatus, Role, User
from conftest import make_user

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
CHECKS = (not_a_server_error, response_schema_conformance)
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# role → {"operations": set of "METHOD /path", "examples": n, "seconds": s}
TALLY: dict[str, dict] = defaultdict(lambda: {"operations": set(), "examples": 0, "seconds": 0.0})


def tally_lines() -> list[str]:
    """Printed at the end of the run (config/tests/conftest.py)."""
    return [
        f"schemathesis as {role}: {len(tally['operations'])} operations, "
        f"{tally['examples']} examples, {tally['seconds']:.0f} s in requests"
        for role, tally in TALLY.items()
    ]


def _world(role: str) -> User | None:
    """Fresh people and one of everything a role's operations read."""
    from customers.models import ServiceType, Site
    from customers.services import customer_link_user
    from notifications.models import Notification
    from tickets import services as tickets

    admin = make_user(f"{role}_admin", Role.ADMIN)
    engineer = make_user(f"{role}_engineer", Role.ENGINEER)
    customer_user = make_user(f"{role}_customer", Role.CUSTOMER)
    customer_link_user(user=customer_user)
    make_user(f"{role}_applicant", Role.ENGINEER, approval=ApprovalStatus.PENDING)
    Site.objects.get_or_create(code="S-1", defaults={"name": "Site one", "location": "Moscow"})
    ServiceType.objects.get_or_create(code="fibre", defaults={"name": "Fibre"})
    Notification.objects.create(title="Hi {{ customer.name }}", body="Body", created_by=admin)
    ticket = tickets.ticket_create(
        actor=customer_user, customer=customer_user.customer, title="No internet"
    )
    tickets.comment_create(ticket=ticket, author=engineer, body="Looking at it")
    tickets.attachment_create(
        ticket=ticket,
        uploaded_by=customer_user,
        upload=SimpleUploadedFile("log.txt", b"speed 12 mbps\n"),
    )
    return {"admin": admin, "engineer": engineer, "customer": customer_user}.get(role)


def _served_schema(live_server):
    return schemathesis.from_uri(
        f"{live_server.url}/api/schema/?format=json", base_url=live_server.url
    )


def _restore(user: User, role: str) -> None:
    """Put the caller back as the world made them: a previous example may
    have changed their role, approval or activity through the API."""
    User.objects.filter(pk=user.pk).update(
        role=role, approval_status=ApprovalStatus.APPROVED, is_active=True
    )


def _call(role: str, user: User | None, case) -> None:
    from accounts.services import token_issue

    headers = {}
    if user is not None:
        _restore(user, role)
        headers["Authorization"] = f"Token {token_issue(user=user).key}"
    started = time.monotonic()
    response = case.call(headers=headers, timeout=60)
    tally = TALLY[role]
    tally["seconds"] += time.monotonic() - started
    tally["examples"] += 1
    tally["operations"].add(case.operation.verbose_name)
    case.validate_response(response, checks=CHECKS)


# One lazily loaded schema per role, each from its own fixture so the world
# is built afresh for that role.


@pytest.fixture
def actor_admin(transactional_db, settings, tmp_path):
    settings.TICKET_CREATE_RATE = "1000/hour"
    settings.MEDIA_ROOT = tmp_path / "media"
    return _world("admin")


@pytest.fixture
def actor_engineer(transactional_db, settings, tmp_path):
    settings.TICKET_CREATE_RATE = "1000/hour"
    settings.MEDIA_ROOT = tmp_path / "media"
    return _world("engineer")


@pytest.fixture
def actor_customer(transactional_db, settings, tmp_path):
    settings.TICKET_CREATE_RATE = "1000/hour"
    settings.MEDIA_ROOT = tmp_path / "media"
    return _world("customer")


@pytest.fixture
def actor_anonymous(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return _world("anonymous")


@pytest.fixture
def schema_admin(live_server, actor_admin):
    return _served_schema(live_server)


@pytest.fixture
def schema_engineer(live_server, actor_engineer):
    return _served_schema(live_server)


@pytest.fixture
def schema_customer(live_server, actor_customer):
    return _served_schema(live_server)


@pytest.fixture
def schema_anonymous(live_server, actor_anonymous):
    return _served_schema(live_server)


as_admin = schemathesis.from_pytest_fixture("schema_admin")
as_engineer = schemathesis.from_pytest_fixture("schema_engineer")
as_customer = schemathesis.from_pytest_fixture("schema_customer")
as_anonymous = schemathesis.from_pytest_fixture("schema_anonymous")


@as_admin.parametrize()
@HYPOTHESIS
def test_the_api_keeps_its_schema_for_an_admin(case, actor_admin):
    _call("admin", actor_admin, case)


@as_engineer.parametrize()
@HYPOTHESIS
def test_the_api_keeps_its_schema_for_an_engineer(case, actor_engineer):
    _call("engineer", actor_engineer, case)


@as_customer.parametrize()
@HYPOTHESIS
def test_the_api_keeps_its_schema_for_a_customer(case, actor_customer):
    _call("customer", actor_customer, case)


@as_anonymous.parametrize()
@HYPOTHESIS
def test_the_api_keeps_its_schema_for_anyone(case, actor_anonymous):
    _call("anonymous", actor_anonymous, case)
