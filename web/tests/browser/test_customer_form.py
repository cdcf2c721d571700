import pytest
from playwright.sync_api import expect

from customers.models import Customer
from web.tests.browser.conftest import check_landmarks, sign_in

pytestmark = pytest.mark.browser


def test_the_customer_form_checks_each_field_as_it_is_left(page, engineer):
    sign_in(page, engineer.username)
    page.goto("/customers/")
    page.get_by_role("link", name="New customer").click()
    check_landmarks(page)

    zone = page.get_by_label("Time zone")
    zone.fill("Mars/Olympus")
    zone.press("Tab")
    feedback = page.locator("#id_timezone_feedback")
    expect(feedback).to_contain_text("Mars/Olympus")
    expect(page.locator("#id_name_feedback")).to_be_empty()

    zone.fill("Europe/Moscow")
    zone.press("Tab")
    expect(feedback).to_be_empty()

    page.get_by_label("Account number").fill("WEB-42")
    page.get_by_label("Name", exact=True).fill("Vera Orlova")
    page.get_by_label("Phone").fill("8 (900) 123-45-67")
    page.get_by_role("button", name="Save customer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vera Orlova")
    assert Customer.objects.get(account_number="WEB-42").phone == "+79001234567"
