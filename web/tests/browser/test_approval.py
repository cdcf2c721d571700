import pytest
from playwright.sync_api import expect

from web.tests.browser.conftest import check_landmarks, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_an_admin_approves_a_pending_engineer_who_can_then_sign_in(
    page, admin_user, pending_engineer
):
    sign_in(page, pending_engineer.username)
    expect(page.get_by_role("alert")).to_contain_text("waiting for an administrator")
    check_landmarks(page)
    screenshot(page, "login-pending")

    sign_in(page, admin_user.username)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", name="Registration requests")).to_be_visible()
    check_landmarks(page)
    screenshot(page, "registration-requests")
    page.get_by_role("button", name=f"Approve {pending_engineer.username}").click()
    expect(page.get_by_role("status")).to_contain_text(f"{pending_engineer.username} is approved")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, pending_engineer.username)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    check_landmarks(page)
