"""One thread per incident in the customer's mailbox: every later notice
answers the first one the customer was sent (over a real local SMTP
server, with and without pipelining)."""

import pytest

from delivery.tests.sinks import SmtpSink
from incidents.tests.helpers import URL, declare, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def smtp(settings, request):
    with SmtpSink(pipelining=request.param) as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        settings.DEFAULT_FROM_EMAIL = "Proactive <noc@isp.example>"
        yield sink


@pytest.fixture
def anna(make_customer):
    from customers.services import site_create

    node = site_create(code="NODE-1", name="North node")
    return make_customer(name="Anna", last_mile_site=node)


def test_later_notices_reply_to_the_first_one(smtp, engineer_client, anna, settings):
    incident = declare(engineer_client)
    first = incident["updates"][0]["notification"]
    deliver()
    update = engineer_client.post(
        f"{URL}{incident['id']}/updates/",
        {"body": "Found it.", "status": "identified"},
        format="json",
    ).json()
    deliver()
    engineer_client.post(f"{URL}{incident['id']}/resolve/", {}, format="json")
    deliver()

    received = smtp.received
    assert len(received) == 3
    root = f"<notification-{first}.customer-{anna.pk}@isp.example>"
    assert received[0].message_id == root
    assert "In-Reply-To" not in received[0].headers
    assert received[1].message_id == (
        f"<notification-{update['notification']}.customer-{anna.pk}@isp.example>"
    )
    for later in received[1:]:
        assert later.headers["In-Reply-To"] == root
        assert later.headers["References"] == root


def test_the_message_id_domain_is_configurable(smtp, engineer_client, anna, settings):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "mail.isp.example"
    declare(engineer_client)
    deliver()
    assert smtp.received[0].message_id.endswith("@mail.isp.example>")
