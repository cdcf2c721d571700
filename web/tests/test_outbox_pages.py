import pytest

from delivery.models import OutboxMessage


@pytest.mark.django_db
class TestOutbox:
    def test_it_lists_captured_messages_and_filters_them(self, web_client, engineer):
        OutboxMessage.objects.create(
            channel="email",
            to="ann@example.com",
            subject="Outage",
            body="Dear Ann",
            html="<p>Dear <b>Ann</b></p>",
        )
        OutboxMessage.objects.create(channel="sms", to="+79001234567", body="Power back at 10:00")
        client = web_client(engineer)
        page = client.get("/outbox/").content.decode()
        assert "ann@example.com" in page and "+79001234567" in page
        only_sms = client.get("/outbox/?channel=sms").content.decode()
        assert "ann@example.com" not in only_sms
        assert "Power back" in only_sms
        assert "+79001234567" not in client.get("/outbox/?to=ann").content.decode()

    def test_it_shows_an_email_as_the_customer_would_see_it(self, web_client, engineer):
        item = OutboxMessage.objects.create(
            channel="email",
            to="ann@example.com",
            subject="Outage",
            body="Dear Ann",
            html="<p>Dear <b>Ann</b><script>x()</script></p>",
        )
        page = web_client(engineer).get(f"/outbox/{item.pk}/").content.decode()
        assert "<h1>Outage</h1>" in page
        assert "Dear Ann" in page
        # The HTML part is shown in a sandboxed frame, never executed in the site.
        assert 'sandbox=""' in page
        assert "<script>x()" not in page

    def test_a_customer_cannot_read_the_outbox(self, web_client, customer_user):
        item = OutboxMessage.objects.create(channel="sms", to="+79001234567", body="hi")
        assert web_client(customer_user).get(f"/outbox/{item.pk}/").status_code == 403
