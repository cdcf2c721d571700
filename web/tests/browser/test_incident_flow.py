"""An engineer declares an outage from the site tree, posts an update,
resolves it and publishes the root cause, in Chromium, with screenshots of
each step at desktop and phone widths."""

import re

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from customers.services import site_create
from incidents.models import Incident
from web.tests.browser.conftest import check_landmarks, sign_in
from web.tests.browser.test_notification_flow import deliverer  # noqa: F401

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def shots(tmp_path):
    """Save the page at desktop (1280) and phone (390) widths under the test's
    tmp dir, failing if anything pushes the page sideways."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    taken: list = []

    def take(tab, name: str) -> None:
        size = tab.viewport_size
        for label, viewport in WIDTHS.items():
            tab.set_viewport_size(viewport)
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} is {overflow}px too wide at {label} width"
            path = folder / f"{name}-{label}.png"
            tab.screenshot(path=str(path), full_page=True)
            taken.append(path)
        tab.set_viewport_size(size)

    take.taken = taken
    return take


@pytest.fixture
def ring(transactional_db, settings):
    settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
    pop = site_create(code="POP-N", name="North POP", location="Moscow")
    street = site_create(code="LM-1", name="Birch Street", parent=pop)
    oak = site_create(code="LM-9", name="Oak Street", location="Tver")
    for i, (name, site, zone) in enumerate(
        [
            ("Anna Petrova", street, "Europe/Moscow"),
            ("Boris Ivanov", street, "Asia/Yekaterinburg"),
            ("Clara Smith", oak, "UTC"),
        ]
    ):
        Customer.objects.create(
            account_number=f"R{i}",
            name=name,
            email=f"{name.split()[0].lower()}@example.com",
            phone=f"+7900123456{i}",
            last_mile_site=site,
            timezone=zone,
            contact_window_start="00:00",
            contact_window_end="00:00",
        )


def test_declare_from_the_site_tree_update_resolve_and_publish_the_root_cause(
    page,
    engineer,
    ring,
    deliverer,  # noqa: F811
    shots,
):
    sign_in(page, engineer.username)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("heading", name="Active outages")).to_be_visible()
    page.get_by_role("link", name="Sites").click()
    page.get_by_role("link", name="Declare outage at North POP (POP-N)").click()

    expect(
        page.get_by_role("heading", name="Declare an outage or schedule maintenance")
    ).to_be_visible()
    expect(page.get_by_label("Title", exact=True)).to_have_value("Outage at North POP")
    expect(page.locator("#site-chips input[value=POP-N]")).to_be_checked()
    expect(page.locator("#reach .stat")).to_have_text("2")
    # The picker searches on the server; a chosen site joins the chips.
    page.get_by_label("Sites (with every site beneath)").fill("oak")
    page.get_by_role("option", name=re.compile("Oak Street")).click()
    expect(page.locator("#site-chips input[value=LM-9]")).to_be_checked()
    expect(page.locator("#reach .stat")).to_have_text("3")
    expect(page.locator("#reach-summary")).to_have_text(
        "Declaring tells 3 customers (the audience is frozen then)."
    )
    page.get_by_label("First notice").fill(
        "Dear {{ customer.name }}, a fibre cut near you stopped your service. We are on it."
    )
    page.get_by_label("SMS", exact=True).check()
    page.get_by_label("Short SMS text").first.fill("Fibre cut near you; we are on it.")
    expect(page.locator("#sms-count")).to_contain_text("1 SMS segment")
    check_landmarks(page)
    shots(page, "1-declare")
    page.get_by_role("button", name="Declare").click()

    incident = Incident.objects.get()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident.number)
    expect(page.locator(".messages")).to_contain_text("3 customers are being told")
    # The timeline follows the notice going out, without a reload.
    expect(page.locator(".timeline .delivery").first).to_contain_text("6 sent", timeout=30_000)
    check_landmarks(page)
    shots(page, "2-declared")

    # One "Post update" form, prefilled with the previous text and status.
    update_form = page.locator("form[action$='/updates/']")
    expect(update_form.get_by_label("Update")).to_have_value(re.compile("a fibre cut near you"))
    expect(update_form.get_by_label("Status")).to_have_value("investigating")
    update_form.get_by_label("Status").select_option("identified")
    update_form.get_by_label("Update").fill("We found the cut and are splicing the fibre.")
    update_form.get_by_role("button", name="Post update").click()
    expect(page.locator(".messages")).to_contain_text("The update is posted.")
    expect(page.locator(".timeline > li")).to_have_count(2)

    page.get_by_role("button", name="Resolve outage").click()
    expect(page.locator(".messages")).to_contain_text("The outage is resolved")
    expect(page.get_by_role("heading", name="Post update")).to_have_count(0)

    page.get_by_role("textbox", name="Root cause").fill(
        "A contractor's digger cut the north ring; we are adding a second path."
    )
    page.get_by_role("button", name="Publish root cause").click()
    expect(page.locator(".messages")).to_contain_text("root-cause report goes to every customer")
    expect(page.locator(".timeline > li")).to_have_count(4)
    expect(page.locator(".timeline > li").last).to_contain_text("6 sent", timeout=30_000)
    check_landmarks(page)
    shots(page, "3-root-cause")
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.rca_published_at is not None

    page.get_by_role("link", name="See who, and what each was sent").click()
    expect(page.get_by_role("row")).to_have_count(4)
    check_landmarks(page)
    shots(page, "4-audience")
    assert len(shots.taken) == 8
