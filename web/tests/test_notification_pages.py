import pytest

from customers.models import Customer, ServiceType
from customers.services import site_create
from delivery.models import Message, OutboxMessage
from delivery.services import message_batch_deliver
from notifications.models import Notification


@pytest.fixture
def town(db):
    pop = site_create(code="POP-N", name="North POP")
    leaf = site_create(code="LM-1", name="Street 1", parent=pop)
    other = site_create(code="LM-9", name="Street 9")
    fibre = ServiceType.objects.create(code="fibre", name="Fibre")
    for i, tz in enumerate(["UTC", "Europe/Moscow", "Asia/Yekaterinburg"]):
        Customer.objects.create(
            account_number=f"N{i}",
            name=f"North {i}",
            email=f"north{i}@example.com",
            last_mile_site=leaf,
            service_type=fibre,
            timezone=tz,
            contact_window_start="00:00",
            contact_window_end="23:59",
        )
    Customer.objects.create(
        account_number="S1", name="South One", email="s1@example.com", last_mile_site=other
    )
    return leaf


def compose(**overrides) -> dict:
    data = {
        "kind": "outage",
        "title": "Outage at {{ customer.last_mile_site }}",
        "body": "Dear {{ customer.name }}, we are fixing it.",
        "channels": ["email"],
        "last_mile_site": ["POP-N"],
        "respect_contact_window": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestCompose:
    def test_the_kind_prefills_a_starting_text(self, web_client, engineer):
        page = web_client(engineer).get("/notifications/new/?kind=maintenance").content.decode()
        assert "Planned maintenance at {{ customer.last_mile_site }}" in page

    def test_the_starter_does_not_overwrite_own_text(self, web_client, engineer):
        client = web_client(engineer)
        swapped = client.get(
            "/notifications/new/starter/", {"kind": "rca", "title": "", "body": ""}
        )
        assert "What caused" in swapped.content.decode()
        assert swapped["HX-Trigger-After-Settle"] == "refresh-preview"
        kept = client.get(
            "/notifications/new/starter/", {"kind": "rca", "title": "Mine", "body": "My words"}
        )
        assert "My words" in kept.content.decode() and "What caused" not in kept.content.decode()

    def test_the_preview_counts_like_the_api_and_renders_a_sample(self, web_client, engineer, town):
        client = web_client(engineer)
        page = client.post("/notifications/preview/", compose()).content.decode()
        api = client.post(
            "/api/audiences/preview/",
            {"audience": {"last_mile_site": ["POP-N"]}},
            content_type="application/json",
        ).json()
        assert api["count"] == 3
        assert 'data-testid="audience-count">3<' in page
        assert "Dear North 0, we are fixing it." in page
        assert "1 segment" in page

    def test_pasted_account_numbers_are_added_and_unknown_ones_named(
        self, web_client, engineer, town
    ):
        page = (
            web_client(engineer)
            .post("/notifications/preview/", compose(account_numbers="S1\nNOPE"))
            .content.decode()
        )
        assert "Unknown account number(s): NOPE." in page
        ok = (
            web_client(engineer)
            .post("/notifications/preview/", compose(account_numbers="S1"))
            .content.decode()
        )
        assert 'data-testid="audience-count">4<' in ok

    def test_a_site_that_no_longer_exists_is_named(self, web_client, engineer, town):
        page = (
            web_client(engineer)
            .post("/notifications/preview/", compose(last_mile_site=["GONE"]))
            .content.decode()
        )
        assert "Sites (with every site beneath): Select a valid choice. GONE" in page

    def test_a_template_error_is_shown_and_nothing_saved(self, web_client, engineer, town):
        client = web_client(engineer)
        preview = client.post("/notifications/preview/", compose(body="{% if %}")).content.decode()
        assert "does not compile" in preview
        response = client.post("/notifications/new/", compose(body="{% if %}", action="draft"))
        assert response.status_code == 400
        assert not Notification.objects.exists()

    def test_save_a_draft_and_edit_it(self, web_client, engineer, town):
        client = web_client(engineer)
        response = client.post("/notifications/new/", compose(action="draft"))
        notification = Notification.objects.get()
        assert response["Location"] == f"/notifications/{notification.pk}/"
        assert notification.status == "draft"
        assert notification.audience["last_mile_site"] == ["POP-N"]
        assert notification.created_by == engineer
        form = client.get(f"/notifications/{notification.pk}/edit/")
        assert form.status_code == 200
        client.post(
            f"/notifications/{notification.pk}/edit/", compose(title="New title", action="draft")
        )
        notification.refresh_from_db()
        assert notification.title == "New title"

    def test_send_a_test_to_myself(self, web_client, engineer, town, settings):
        settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
        response = web_client(engineer).post(
            "/notifications/new/", compose(action="test"), follow=True
        )
        assert "A test copy went to eric_engineer@example.com" in response.content.decode()
        copy = OutboxMessage.objects.get()
        assert copy.to == "eric_engineer@example.com"
        assert copy.subject.startswith("[Test]")
        assert not Notification.objects.exists()


@pytest.mark.django_db
class TestTestSend:
    def test_a_test_sms_goes_to_a_normalised_phone(self, web_client, engineer, town, settings):
        settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
        response = web_client(engineer).post(
            "/notifications/new/",
            compose(action="test", channels=["sms"], test_phone="8 900 123 45 67"),
            follow=True,
        )
        assert "A test copy went to +79001234567" in response.content.decode()
        assert OutboxMessage.objects.get().to == "+79001234567"

    def test_a_bad_phone_is_refused(self, web_client, engineer, town):
        response = web_client(engineer).post(
            "/notifications/new/",
            compose(action="test", channels=["sms"], test_phone="12"),
            follow=True,
        )
        assert "phone" in response.content.decode()
        assert not OutboxMessage.objects.exists()
        assert not Message.objects.exists()


@pytest.mark.django_db
class TestSendAndDetail:
    def test_confirm_states_the_count_then_sends(self, web_client, engineer, town):
        client = web_client(engineer)
        response = client.post("/notifications/new/", compose(action="send"))
        notification = Notification.objects.get()
        assert response["Location"] == f"/notifications/{notification.pk}/send/"
        confirm = client.get(response["Location"]).content.decode()
        assert "This will go to <strong>3</strong> customers" in confirm
        client.post(f"/notifications/{notification.pk}/send/")
        notification.refresh_from_db()
        assert notification.status == "sending"
        assert Message.objects.filter(notification=notification).count() == 3
        progress = client.get(f"/notifications/{notification.pk}/progress/").content.decode()
        assert 'hx-trigger="every 1s"' in progress
        live_page = client.get(f"/notifications/{notification.pk}/").content.decode()
        assert 'hx-select="#messages-table"' in live_page
        assert "0%" in progress
        while message_batch_deliver().claimed:
            pass
        done = client.get(f"/notifications/{notification.pk}/progress/").content.decode()
        assert 'data-testid="progress-percent">100%<' in done
        assert "every 1s" not in done
        detail = client.get(f"/notifications/{notification.pk}/?status=sent").content.decode()
        assert 'hx-select="#messages-table"' not in detail
        assert detail.count('<span class="badge sent">sent</span>') == 3
        assert "North 0" in detail

    def test_cancel_and_duplicate(self, web_client, engineer, town):
        client = web_client(engineer)
        client.post("/notifications/new/", compose(action="send", start_at="2099-01-01T10:00"))
        notification = Notification.objects.get()
        client.post(f"/notifications/{notification.pk}/send/")
        notification.refresh_from_db()
        assert notification.status == "scheduled"
        client.post(f"/notifications/{notification.pk}/cancel/")
        notification.refresh_from_db()
        assert notification.status == "cancelled"
        again = client.get(f"/notifications/{notification.pk}/send/", follow=True)
        assert "already cancelled" in again.content.decode()
        resend = client.post(f"/notifications/{notification.pk}/send/", follow=True)
        assert "cannot be sent again" in resend.content.decode()
        edit = client.post(
            f"/notifications/{notification.pk}/edit/", compose(action="draft"), follow=True
        )
        assert "cannot be edited" in edit.content.decode()
        response = client.post(f"/notifications/{notification.pk}/duplicate/")
        copy = Notification.objects.exclude(pk=notification.pk).get()
        assert response["Location"] == f"/notifications/{copy.pk}/edit/"
        assert copy.status == "draft" and copy.title == notification.title

    def test_delete_a_draft(self, web_client, engineer, town):
        client = web_client(engineer)
        client.post("/notifications/new/", compose(action="draft"))
        notification = Notification.objects.get()
        assert (
            client.post(f"/notifications/{notification.pk}/delete/")["Location"]
            == "/notifications/"
        )
        assert not Notification.objects.exists()

    def test_the_list_shows_progress(self, web_client, engineer, town, settings):
        settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
        client = web_client(engineer)
        client.post("/notifications/new/", compose(action="draft", title="Draft only"))
        client.post("/notifications/new/", compose(action="send"))
        sending = Notification.objects.get(title__startswith="Outage")
        client.post(f"/notifications/{sending.pk}/send/")
        assert message_batch_deliver(limit=2).claimed == 2  # two of the three customers
        page = client.get("/notifications/?kind=outage").content.decode()
        rows = {row.split("</td>")[0]: row for row in page.split("<tr")[1:]}
        sending_row = next(row for row in rows.values() if "Outage at" in row)
        draft_row = next(row for row in rows.values() if "Draft only" in row)
        assert 'aria-valuenow="67"' in sending_row and "2 / 3" in sending_row
        assert "progressbar" not in draft_row


@pytest.mark.django_db
class TestRetryFailed:
    def test_failed_messages_are_sent_again(self, web_client, engineer, town, settings):
        settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
        client = web_client(engineer)
        client.post("/notifications/new/", compose(action="send"))
        notification = Notification.objects.get()
        client.post(f"/notifications/{notification.pk}/send/")
        while message_batch_deliver().claimed:
            pass
        notification.refresh_from_db()
        assert notification.status == "completed"
        failed = Message.objects.filter(notification=notification).first()
        Message.objects.filter(pk=failed.pk).update(
            status="failed", attempts=8, last_error="550 no such user"
        )
        page = client.get(f"/notifications/{notification.pk}/?status=failed").content.decode()
        assert "550 no such user" in page and "Retry failed" in page
        response = client.post(f"/notifications/{notification.pk}/retry-failed/", follow=True)
        assert "1 failed message(s) will be sent again" in response.content.decode()
        notification.refresh_from_db()
        assert notification.status == "sending"
        while message_batch_deliver().claimed:
            pass
        failed.refresh_from_db()
        notification.refresh_from_db()
        assert failed.status == "sent" and failed.attempts == 1
        assert notification.status == "completed"

    def test_a_draft_has_nothing_to_retry(self, web_client, engineer, town):
        client = web_client(engineer)
        client.post("/notifications/new/", compose(action="draft"))
        notification = Notification.objects.get()
        response = client.post(f"/notifications/{notification.pk}/retry-failed/", follow=True)
        assert "has no failed messages to retry" in response.content.decode()
