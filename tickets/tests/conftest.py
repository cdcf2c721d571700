import io

import pytest

from accounts.models import Role
from conftest import client_for, make_user
from customers.models import ServiceType
from tickets import services

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(autouse=True)
def attachments_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def fiber(db):
    return ServiceType.objects.create(code="fiber", name="Fiber internet")


@pytest.fixture
def people(admin_user, engineer, other_engineer, customer_user, other_customer_user):
    """Everyone in the permission matrix, each with a signed-in client."""
    return {
        "anonymous": client_for(None),
        "customer_a": client_for(customer_user),
        "customer_b": client_for(other_customer_user),
        "engineer_x": client_for(engineer),
        "engineer_y": client_for(other_engineer),
        "admin": client_for(admin_user),
    }


def open_ticket(customer_user, **extra):
    fields = {"title": "No internet", "description": "Since 9am, the light is red"}
    fields.update(extra)
    return services.ticket_create(actor=customer_user, customer=customer_user.customer, **fields)


@pytest.fixture
def ticket_of_a(customer_user, engineer, other_engineer):
    """Customer A's ticket, assigned to engineer X (Y is busy at the moment)."""
    other_engineer.is_available = False
    other_engineer.save()
    ticket = open_ticket(customer_user)
    other_engineer.is_available = True
    other_engineer.save()
    assert ticket.assignee == engineer
    return ticket


def new_engineer(username: str, **extra):
    return make_user(username, Role.ENGINEER, **extra)


def upload(name: str, content: bytes):
    handle = io.BytesIO(content)
    handle.name = name
    return handle
