import re

import pytest
from playwright.sync_api import expect

from delivery.models import Message
from tickets.models import Ticket
from web.tests.browser.conftest import PASSWORD, check_landmarks, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_a_customer_raises_a_ticket_the_engineer_answers_and_notes_stay_internal(
    browser_pair, engineer
):
    customer_tab, engineer_tab = browser_pair

    customer_tab.goto("/signup/")
    check_landmarks(customer_tab)
    customer_tab.get_by_label("Customer — raise and follow tickets").check()
    customer_tab.get_by_label("Username").fill("nina")
    customer_tab.get_by_label("Email").fill("nina@example.com")
    customer_tab.get_by_label("First name").fill("Nina")
    customer_tab.get_by_label("Password").fill(PASSWORD)
    customer_tab.get_by_role("button", name="Create account").click()
    expect(customer_tab.get_by_role("alert")).to_contain_text("open the link we emailed you")

    # The link emailed to the address is followed in the same browser.
    email = Message.objects.filter(to_address="nina@example.com").latest("id")
    link = re.search(r"https?://\S+(/confirm-email/\S+/)", email.body).group(1)
    customer_tab.goto(link)
    customer_tab.get_by_role("button", name="Confirm my address").click()
    expect(customer_tab.get_by_role("status")).to_contain_text("nina@example.com is confirmed")
    customer_tab.get_by_role("link", name="Go to my tickets").click()
    expect(customer_tab.get_by_role("heading", name="My tickets")).to_be_visible()

    customer_tab.get_by_role("link", name="Raise a ticket").click()
    check_landmarks(customer_tab)
    customer_tab.get_by_label("Title").fill("Internet drops every evening")
    customer_tab.get_by_label("What happened?").fill("Since Monday, around 20:00.")
    customer_tab.get_by_label("Priority").select_option("high")
    screenshot(customer_tab, "portal-new-ticket")
    customer_tab.get_by_role("button", name="Raise ticket").click()
    expect(customer_tab.get_by_role("status")).to_contain_text("assigned to Eric")
    expect(customer_tab.get_by_test_id("ticket-assignee")).to_have_text("Eric")
    ticket = Ticket.objects.get()
    assert ticket.assignee == engineer

    sign_in(engineer_tab, engineer.username)
    engineer_tab.get_by_role("link", name="Tickets", exact=True).click()
    engineer_tab.get_by_role("link", name=ticket.number).click()
    check_landmarks(engineer_tab)
    engineer_tab.get_by_role("button", name="Accept").click()
    expect(engineer_tab.get_by_test_id("ticket-status")).to_have_text("in progress")
    engineer_tab.get_by_role("textbox", name="Reply").fill(
        "A technician will check the line tomorrow morning."
    )
    engineer_tab.get_by_role("button", name="Send to customer").click()
    expect(engineer_tab.get_by_role("status")).to_contain_text("Your comment is saved")
    # The internal note is a tab of its own that looks unlike the reply.
    note_tab = engineer_tab.get_by_test_id("composer-note")
    expect(note_tab).to_be_hidden()
    engineer_tab.get_by_test_id("tab-note").click()
    expect(note_tab).to_be_visible()
    expect(engineer_tab.get_by_test_id("composer-reply")).to_be_hidden()
    assert note_tab.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    ) != engineer_tab.get_by_test_id("composer-reply").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    engineer_tab.get_by_role("textbox", name="Note for the team").fill(
        "Probably the splitter at the cabinet."
    )
    engineer_tab.get_by_role("button", name="Save internal note").click()
    expect(engineer_tab.get_by_role("status")).to_contain_text("the customer does not see it")
    expect(engineer_tab.get_by_test_id("timeline")).to_contain_text("Probably the splitter")
    screenshot(engineer_tab, "ticket-engineer")

    # The customer's open page shows the engineer's comment without a reload.
    timeline = customer_tab.get_by_test_id("timeline")
    expect(timeline).to_contain_text("A technician will check the line tomorrow morning.")
    expect(timeline).to_contain_text("Your request is being worked on by Eric.")
    expect(timeline).not_to_contain_text("splitter")
    customer_tab.reload()
    expect(customer_tab.get_by_test_id("ticket-status")).to_have_text("in progress")
    expect(customer_tab.get_by_test_id("timeline")).not_to_contain_text("splitter")
    screenshot(customer_tab, "ticket-customer")
