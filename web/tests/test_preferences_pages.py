"""The links in a customer's email: one-click unsubscribe (RFC 8058) and the
preferences page, both without signing in."""

import pytest
from django.test import Client

from customers.models import Customer
from customers.tokens import customer_token_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return Customer.objects.create(
        account_number="ACC-1",
        name="Ann Lee",
        email="ann@example.com",
        phone="+79001234567",
        marketing_opt_in=True,
    )


def token_for(customer) -> str:
    return customer_token_make(customer_id=customer.pk)


def test_it_unsubscribes_in_one_click_without_session_or_csrf_token(customer):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        f"/unsubscribe/{token_for(customer)}/",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.marketing_opt_in is False
    assert customer.email_opt_in is True  # service mail keeps coming


def test_a_get_of_the_unsubscribe_link_only_shows_a_button(customer):
    response = Client().get(f"/unsubscribe/{token_for(customer)}/")
    assert response.status_code == 200
    assert response.content.count(b'<button type="submit"') == 1
    assert b'name="viewport"' in response.content
    customer.refresh_from_db()
    assert customer.marketing_opt_in is True


def test_a_forged_or_foreign_token_is_not_found(customer):
    other = Customer.objects.create(account_number="ACC-2", name="Bob", marketing_opt_in=True)
    forged = token_for(other)[:-2] + "xx"
    for token in (forged, str(other.pk), "MQ", "-"):
        assert Client().post(f"/unsubscribe/{token}/").status_code == 404
        assert Client().get(f"/preferences/{token}/").status_code == 404
    other.refresh_from_db()
    assert other.marketing_opt_in is True


def test_tokens_are_per_customer_and_survive_an_email_change(customer):
    token = token_for(customer)
    other = Customer.objects.create(account_number="ACC-2", name="Bob")
    assert token_for(other) != token
    Customer.objects.filter(pk=customer.pk).update(email="ann.new@example.com")
    Client().post(f"/unsubscribe/{token}/")
    customer.refresh_from_db()
    assert customer.marketing_opt_in is False


def test_the_preferences_page_changes_channels_and_marketing(customer):
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/preferences/{token_for(customer)}/")
    assert page.status_code == 200
    assert b'name="viewport"' in page.content and "a…@example.com" in page.content.decode()
    csrf = page.cookies["csrftoken"].value
    response = client.post(
        f"/preferences/{token_for(customer)}/",
        {"email_opt_in": "on", "csrfmiddlewaretoken": csrf},
    )
    assert response.status_code == 200 and b"Saved" in response.content
    customer.refresh_from_db()
    assert (customer.email_opt_in, customer.sms_opt_in, customer.marketing_opt_in) == (
        True,
        False,
        False,
    )
