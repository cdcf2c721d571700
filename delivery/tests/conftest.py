import datetime
import itertools

import pytest
from django.utils import timezone

from customers.models import Customer, ServiceType, Site
from notifications.models import Notification

_numbers = itertools.count(1)


@pytest.fixture
def make_customer(db):
    def make(**fields) -> Customer:
        n = next(_numbers)
        values = {
            "account_number": f"ACC-{n:06d}",
            "name": f"Customer {n}",
            "email": f"customer{n}@example.com",
            "phone": f"+7900{n:07d}",
            "timezone": "UTC",
            "contact_window_start": datetime.time(0, 0),
            "contact_window_end": datetime.time(0, 0),
        }
        values.update(fields)
        return Customer.objects.create(**values)

    return make


@pytest.fixture
def make_notification(db):
    def make(**fields) -> Notification:
        values = {
            "title": "Outage at {{ customer.last_mile_site }}",
            "body": "Dear {{ customer.name }}, service is down until {{ end_at }}.",
            "channels": ["email"],
            "kind": Notification.Kind.OUTAGE,
            "audience": {"all": True},
            "status": Notification.Status.DRAFT,
        }
        values.update(fields)
        return Notification.objects.create(**values)

    return make


@pytest.fixture
def site(db):
    return Site.objects.create(code="NODE-1", name="North node", location="Moscow")


@pytest.fixture
def fiber(db):
    return ServiceType.objects.create(code="FTTH", name="Fiber internet")


def started(notification: Notification) -> Notification:
    notification.status = Notification.Status.SENDING
    notification.started_at = timezone.now()
    notification.materialized_at = timezone.now()
    notification.save()
    return notification


@pytest.fixture(autouse=True)
def _outbox_email(settings):
    """pytest-django swaps in the locmem backend; the product's default is the outbox."""
    settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
    settings.SMS_GATEWAY_URL = ""
