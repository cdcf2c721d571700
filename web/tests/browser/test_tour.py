"""Every page: a title, one h1, no console error; screenshots at desktop and
phone widths; and a keyboard-only pass over the compose page."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from customers.models import Customer
from delivery.models import Message, OutboxMessage
from notifications.models import Notification
from tickets import services as ticket_services
from web.tests.browser.conftest import check_landmarks, screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db, admin_user, engineer, customer_user, pending_engineer):
    call_command("seed_demo", customers=60, seed=7, stdout=io.StringIO())
    customer = Customer.objects.get(user=customer_user)
    ticket = ticket_services.ticket_create(
        actor=customer_user, customer=customer, title="Router keeps rebooting", priority="high"
    )
    ticket_services.comment_create(ticket=ticket, author=engineer, body="Checking the line now.")
    notification = Notification.objects.create(
        title="Planned works at {{ customer.last_mile_site }}",
        body="Dear {{ customer.name }}, …",
        kind="maintenance",
        channels=["email", "sms"],
        status="completed",
        created_by=engineer,
    )
    Message.objects.create(
        notification=notification, customer=customer, channel="email", status="sent"
    )
    Message.objects.create(
        notification=notification,
        customer=Customer.objects.exclude(pk=customer.pk).first(),
        channel="sms",
        status="failed",
        last_error="550 mailbox unavailable",
    )
    outbox = OutboxMessage.objects.create(
        channel="email",
        to=customer.email,
        subject="Planned works",
        body="Dear Carol, …",
        html="<p>Dear <b>Carol</b>, …</p>",
    )
    return {"ticket": ticket, "notification": notification, "customer": customer, "outbox": outbox}


def visit(page, url: str, name: str) -> None:
    page.goto(url)
    check_landmarks(page)
    screenshot(page, name)


def test_every_staff_and_admin_page_has_a_title_and_one_h1(page, demo, admin_user):
    visit(page, "/login/", "login")
    visit(page, "/signup/", "signup")
    sign_in(page, admin_user.username)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    pages = {
        "/": "dashboard",
        "/customers/": "customers",
        f"/customers/{demo['customer'].pk}/": "customer-detail",
        "/customers/new/": "customer-new",
        f"/customers/{demo['customer'].pk}/edit/": "customer-edit",
        "/customers/import/": "customer-import",
        "/sites/": "sites",
        "/notifications/": "notifications",
        "/notifications/new/": "notification-compose",
        f"/notifications/{demo['notification'].pk}/": "notification-completed",
        "/outbox/": "outbox-list",
        f"/outbox/{demo['outbox'].pk}/": "outbox-email",
        "/tickets/?scope=all": "tickets",
        f"/tickets/{demo['ticket'].pk}/": "ticket",
        "/users/": "users",
        "/users/requests/": "requests",
    }
    for url, name in pages.items():
        visit(page, url, name)


def test_every_portal_page_has_a_title_and_one_h1(page, demo, customer_user):
    sign_in(page, customer_user.username)
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()
    for url, name in {
        "/portal/tickets/": "portal-tickets",
        "/portal/tickets/new/": "portal-ticket-new",
        f"/portal/tickets/{demo['ticket'].pk}/": "portal-ticket",
        "/portal/profile/": "portal-profile",
        "/portal/notifications/": "portal-notifications",
    }.items():
        visit(page, url, name)
    page.goto("/customers/")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def tab_to(page, target, limit: int = 80) -> None:
    """Press Tab until `target` has the focus; each stop must show a focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", page.evaluate("document.activeElement.outerHTML")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} is not reachable with the Tab key")


def test_a_notification_can_be_composed_with_the_keyboard_alone(page, demo, engineer):
    sign_in(page, engineer.username)
    page.goto("/notifications/new/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")

    kind = page.get_by_label("Kind")
    tab_to(page, kind)
    page.keyboard.type("Planned")  # type-ahead selects "Planned maintenance"
    expect(kind).to_have_value("maintenance")
    expect(page.get_by_label("Title (email subject)")).to_have_value(
        "Planned maintenance at {{ customer.last_mile_site }}"
    )
    expect(page.get_by_test_id("rendered-sample")).to_contain_text("Planned maintenance at ")
    title = page.get_by_label("Title (email subject)")
    tab_to(page, title)
    page.keyboard.press("End")
    page.keyboard.type(" tonight")

    body = page.get_by_label("Message")
    tab_to(page, body)
    page.keyboard.press("Control+End")
    page.keyboard.type(" Your account: ")
    insert = page.get_by_role("button", name="{{ customer.account_number }}")
    tab_to(page, insert)
    page.keyboard.press("Enter")
    expect(body).to_have_value(re.compile(r"Your account: \{\{ customer.account_number \}\}$"))
    expect(page.get_by_test_id("rendered-sample")).to_contain_text("Your account: ")

    sms = page.get_by_label("SMS", exact=True)
    tab_to(page, sms)
    page.keyboard.press("Space")
    expect(sms).to_be_checked()

    sites = page.get_by_label("Sites (with every site beneath)")
    tab_to(page, sites)
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("audience-count")).not_to_have_text("0")

    save = page.get_by_role("button", name="Save draft")
    tab_to(page, save)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Planned maintenance at {{ customer.last_mile_site }} tonight"
    )
    draft = Notification.objects.get(status="draft")
    assert draft.channels == ["email", "sms"]
    assert draft.audience["last_mile_site"]
