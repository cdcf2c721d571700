import pytest

from conftest import client_for, make_user
from customers.models import ServiceType
from tickets import services


@pytest.fixture
def fiber(db):
    return ServiceType.objects.create(code="fiber", name="Fiber internet")


@pytest.fixture
def customer_a(customer_user):
    return customer_user


@pytest.fixture
def customer_b(other_customer_user):
    return other_customer_user


@pytest.fixture
def people(admin_user, engineer, other_engineer, customer_user, other_customer_user):
    """Everyone in the permission matrix, with a signed-in client each."""
    return {
        "anonymous": client_for(None),
        "customer_a": client_for(customer_user),
        "customer_b": client_for(other_customer_user),
        "engineer_x": client_for(engineer),
        "engineer_y": client_for(other_engineer),
        "admin": client_for(admin_user),
    }


@pytest.fixture
def ticket_of_a(customer_user, engineer, other_engineer):
    """Customer A's ticket, assigned to engineer X (Y is made unavailable)."""
    other_engineer.is_available = False
    other_engineer.save()
    ticket = services.ticket_create(
        actor=customer_user,
        customer=customer_user.customer,
        title="No internet",
        description="Since 9am",
    )
    other_engineer.is_available = True
    other_engineer.save()
    assert ticket.assignee == engineer
    return ticket


def new_engineer(username: str, **extra):
    from accounts.models import Role

    return make_user(username, Role.ENGINEER, **extra)
