import pytest
from django.utils import timezone

from customers.models import Customer, ServiceType, Site
from customers.tests.factories import CustomerFactory
from notifications.models import Notification


@pytest.fixture
def make_customer(db):
    def make(**fields) -> Customer:
        return CustomerFactory(**fields)

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
