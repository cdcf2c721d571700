"""One render path: the email delivery sends, the API's test copy, the
portal's "my notifications" and the customer page's subject all read the
same text for the same customer (a notice with no start_at, only the moment
it started, and incident times)."""

import datetime
import html

import pytest

from customers.models import Customer
from delivery.models import OutboxMessage
from incidents.tests.helpers import declare, deliver
from notifications import templating
from notifications.models import Notification

pytestmark = pytest.mark.django_db
BODY = (
    "Dear {{ customer.name }}: started {{ start_at }}, "
    "outage since {{ incident.started_at }}, back by {{ incident.eta }}."
)


@pytest.fixture
def carol(customer_user):
    from customers.services import site_create

    customer = Customer.objects.get(user=customer_user)
    customer.last_mile_site = site_create(code="NODE-1", name="North node")
    customer.timezone = "Asia/Yekaterinburg"
    # Open all day, so the notice goes out whatever the hour the test runs at.
    customer.contact_window_start = customer.contact_window_end = datetime.time(0, 0)
    customer.save()
    return customer


def test_every_caller_renders_the_same_text(
    engineer_client, engineer, web_client, customer_user, carol
):
    eta = datetime.datetime(2030, 1, 1, 9, 0, tzinfo=datetime.UTC)
    incident = declare(engineer_client, body=BODY, eta=eta.isoformat())
    notice = Notification.objects.get(pk=incident["updates"][0]["notification"])
    assert notice.start_at is None and notice.started_at is not None
    deliver()
    delivered = OutboxMessage.objects.get(to=carol.email)
    expected = templating.notification_render(
        notification=notice, customer=templating.customer_values(carol)
    )
    # What was said, then the delivery's footer (the customer's preferences link).
    said, _, footer = delivered.body.partition("\n\n-- \n")
    assert said == expected.text
    assert "/preferences/" in footer
    assert delivered.subject == expected.subject == "Fibre cut on the north ring"
    assert "2030-01-01 14:00 +05" in said
    assert templating.format_moment(notice.started_at, carol.timezone) in said

    test_copy = engineer_client.post(
        f"/api/notifications/{notice.pk}/test/",
        {"email": "me@example.com", "customer": carol.pk},
        format="json",
    ).json()["messages"][0]
    copy = OutboxMessage.objects.get(message_id=test_copy["id"]).body
    assert copy.partition("\n\n-- \n")[0] == said

    portal = web_client(customer_user).get("/portal/notifications/").content.decode()
    assert html.escape(said) in portal

    page = web_client(engineer).get(f"/customers/{carol.pk}/").content.decode()
    assert html.escape(delivered.subject) in page
