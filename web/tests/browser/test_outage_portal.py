"""A customer of a site that is down opens the portal, sees the outage,
raises a ticket anyway, gets the automatic reply, and sees the ticket
resolved when the outage is."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from conftest import make_user
from customers.models import Customer
from customers.services import customer_link_user, site_create
from incidents.models import Incident
from incidents.services import incident_declare, incident_resolve
from tickets.models import Ticket
from web.tests.browser.conftest import check_landmarks, screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def birch_street_is_down(transactional_db, settings):
    settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
    street = site_create(code="LM-1", name="Birch Street")
    engineer = make_user("eric_engineer", Role.ENGINEER, first_name="Eric")
    carol = make_user("carol_customer", Role.CUSTOMER, first_name="Carol")
    customer_link_user(user=carol)
    Customer.objects.filter(user=carol).update(last_mile_site=street, timezone="Europe/Moscow")
    outage = incident_declare(
        created_by=engineer,
        kind=Incident.Kind.OUTAGE,
        title="Fibre cut on Birch Street",
        scope={"last_mile_site": ["LM-1"]},
        body="A digger cut the cable; crews are on the way.",
        eta=timezone.now() + timedelta(hours=3),
    )
    return {"outage": outage, "engineer": engineer}


def test_a_customer_sees_the_outage_raises_a_ticket_anyway_and_sees_it_resolved(
    page, birch_street_is_down
):
    sign_in(page, "carol_customer")
    page.goto("/portal/")
    check_landmarks(page)
    notice = page.get_by_test_id("outage-notice")
    expect(notice).to_contain_text("Fibre cut on Birch Street")
    expect(notice).to_contain_text("A digger cut the cable; crews are on the way.")
    expect(page.get_by_test_id("outage-eta")).to_contain_text("MSK")
    screenshot(page, "portal-outage")

    page.get_by_role("link", name="Raise a ticket").first.click()
    expect(page.get_by_test_id("outage-question")).to_contain_text(
        "We already know about this outage — raise a ticket anyway?"
    )
    page.get_by_role("link", name="Yes, raise a ticket anyway").click()
    page.get_by_label("Title").fill("No internet since this morning")
    page.get_by_role("button", name="Raise ticket").click()

    ticket = Ticket.objects.get()
    expect(page).to_have_url(f"{page.url.split('/portal/')[0]}/portal/tickets/{ticket.pk}/")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("We already know about this outage")
    expect(timeline).to_contain_text("Your request is linked to the outage")
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("not assigned yet")

    with_incident = Incident.objects.get(pk=birch_street_is_down["outage"].pk)
    incident_resolve(
        incident=with_incident,
        created_by=birch_street_is_down["engineer"],
        body="The cable is repaired.",
    )
    page.reload()
    expect(page.get_by_test_id("ticket-status")).to_contain_text("resolved")
    expect(page.get_by_test_id("timeline")).to_contain_text("is resolved and service is restored")
    screenshot(page, "portal-ticket-resolved-with-outage")
