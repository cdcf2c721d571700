"""The approvals queue, the suppression list and the customer's consent and
suppression state on the website."""

import pytest

from customers.models import Customer
from delivery.models import Message, Suppression
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(engineer):
    Customer.objects.create(account_number="A1", name="Ann", email="ann@example.com")
    return Notification.objects.create(
        title="Big news",
        body="Hello",
        channels=["email"],
        audience={"all": True},
        status=Notification.Status.AWAITING_APPROVAL,
        created_by=engineer,
    )


def test_the_approvals_queue_lets_another_person_approve(
    web_client, engineer, other_engineer, held
):
    own = web_client(engineer).get("/notifications/approvals/").content.decode()
    assert "Big news" in own and "another person approves it" in own
    page = web_client(other_engineer).get("/notifications/approvals/").content.decode()
    assert "Approve and send" in page
    client = web_client(other_engineer)
    response = client.post(
        f"/notifications/{held.pk}/approve/", {"next": "/notifications/approvals/"}
    )
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == "sending" and held.approved_by == other_engineer
    assert Message.objects.filter(notification=held).count() == 1


def test_the_author_is_told_why_they_cannot_approve(web_client, engineer, held):
    client = web_client(engineer)
    response = client.post(f"/notifications/{held.pk}/approve/", follow=True)
    assert "another staff member must approve it" in response.content.decode()
    held.refresh_from_db()
    assert held.status == "awaiting_approval"


def test_the_suppression_list_is_searchable_and_only_admins_remove(
    web_client, engineer, admin_user
):
    entry = Suppression.objects.create(
        channel="email", address="gone@example.com", reason="complaint"
    )
    Suppression.objects.create(channel="sms", address="+79001234567", reason="sms_stop")
    page = web_client(engineer).get("/suppressions/?search=gone").content.decode()
    assert "gone@example.com" in page and "+79001234567" not in page
    assert "Remove" not in page
    by_reason = web_client(engineer).get("/suppressions/?reason=sms_stop").content.decode()
    assert "+79001234567" in by_reason and "gone@example.com" not in by_reason
    assert web_client(engineer).post(f"/suppressions/{entry.pk}/delete/").status_code == 403
    assert Suppression.objects.filter(pk=entry.pk).exists()
    assert "Remove" in web_client(admin_user).get("/suppressions/").content.decode()
    web_client(admin_user).post(f"/suppressions/{entry.pk}/delete/")
    assert not Suppression.objects.filter(pk=entry.pk).exists()


def test_customers_never_see_these_pages(web_client, customer_user):
    for url in ("/suppressions/", "/notifications/approvals/"):
        assert web_client(customer_user).get(url).status_code == 403


def test_the_customer_page_shows_consent_and_suppression(web_client, engineer):
    customer = Customer.objects.create(
        account_number="A1", name="Ann", email="Ann@Example.com", marketing_opt_in=False
    )
    Suppression.objects.create(channel="email", address="ann@example.com", reason="hard_bounce")
    page = web_client(engineer).get(f"/customers/{customer.pk}/").content.decode()
    assert "not agreed" in page
    assert "Email: Hard bounce" in page


def test_the_compose_page_explains_the_category(web_client, engineer):
    page = web_client(engineer).get("/notifications/new/").content.decode()
    assert 'name="category"' in page and "one-click unsubscribe" in page
    assert 'name="everyone"' in page and 'name="fallback_channel"' in page


def test_the_outbox_page_shows_every_header(web_client, engineer):
    from delivery.models import OutboxMessage

    item = OutboxMessage.objects.create(
        channel="email",
        to="ann@example.com",
        subject="Offers",
        body="x",
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Message-ID": "<m@x>"},
    )
    page = web_client(engineer).get(f"/outbox/{item.pk}/").content.decode()
    assert "List-Unsubscribe-Post" in page and "List-Unsubscribe=One-Click" in page
    assert "&lt;m@x&gt;" in page


def test_the_compose_preview_asks_who_to_tell_and_still_shows_the_text(web_client, engineer):
    data = {
        "kind": "general",
        "title": "Hello {{ customer.name }}",
        "body": "News",
        "channels": ["email"],
    }
    page = web_client(engineer).post("/notifications/preview/", data).content.decode()
    assert "Choose who to tell" in page and 'data-testid="rendered-sample"' in page
    everyone = web_client(engineer).post("/notifications/preview/", {**data, "everyone": "on"})
    assert 'data-testid="audience-count"' in everyone.content.decode()


def test_a_customer_agrees_to_marketing_on_their_profile(web_client, customer_user):
    from customers.models import Customer

    client = web_client(customer_user)
    page = client.get("/portal/profile/").content.decode()
    assert 'name="marketing_opt_in"' in page
    customer = Customer.objects.get(user=customer_user)
    response = client.post(
        "/portal/profile/",
        {
            "email": customer.email,
            "timezone": "UTC",
            "contact_window_start": "08:00",
            "contact_window_end": "22:00",
            "email_opt_in": "on",
            "marketing_opt_in": "on",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.marketing_opt_in is True and customer.sms_opt_in is False
