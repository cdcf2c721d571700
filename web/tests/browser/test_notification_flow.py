import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from conftest import client_for
from customers.models import Customer, ServiceType
from customers.services import site_create
from delivery.services import message_batch_deliver
from web.tests.browser.conftest import check_landmarks, screenshot, sign_in

pytestmark = pytest.mark.browser


class Deliverer(threading.Thread):
    """Runs the delivery pipeline's drain (what each Celery drain task runs)
    against the live server's database until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []

    def run(self):
        try:
            while not self.stopping.is_set():
                if not message_batch_deliver().claimed:
                    self.stopping.wait(0.2)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            connection.close()

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


@pytest.fixture
def deliverer():
    worker = Deliverer()
    worker.start()
    yield worker
    worker.stop()
    assert worker.errors == []


@pytest.fixture
def town(transactional_db, settings):
    settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
    pop = site_create(code="POP-N", name="North POP")
    street = site_create(code="LM-1", name="Birch Street", parent=pop)
    elsewhere = site_create(code="LM-9", name="Oak Street")
    fibre = ServiceType.objects.create(code="fibre", name="Fibre")
    people = [
        Customer.objects.create(
            account_number=f"N{i}",
            name=name,
            email=f"{name.split()[0].lower()}@example.com",
            last_mile_site=street,
            service_type=fibre,
            timezone=tz,
        )
        for i, (name, tz) in enumerate(
            [
                ("Anna Petrova", "Europe/Moscow"),
                ("Boris Ivanov", "Asia/Yekaterinburg"),
                ("Clara Smith", "UTC"),
            ]
        )
    ]
    Customer.objects.create(
        account_number="S1", name="Someone Else", email="else@example.com", last_mile_site=elsewhere
    )
    return people


def test_an_engineer_tells_one_sites_customers_and_watches_it_arrive(
    page, engineer, town, deliverer
):
    sign_in(page, engineer.username)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Notifications").click()
    page.get_by_role("link", name="Outage", exact=True).click()
    expect(page.get_by_role("heading", name="New notification")).to_be_visible()
    expect(page.get_by_label("Title (email subject)")).to_have_value(
        "Service interruption at {{ customer.last_mile_site }}"
    )

    page.get_by_label("Sites (with every site beneath)").select_option("POP-N")
    page.get_by_label("Deliver only inside each customer's contact hours").uncheck()
    expect(page.get_by_test_id("audience-count")).to_have_text("3")
    api = (
        client_for(engineer)
        .post("/api/audiences/preview/", {"audience": {"last_mile_site": ["POP-N"]}}, format="json")
        .json()
    )
    assert api["count"] == 3
    expect(page.get_by_test_id("reach-email")).to_have_text(str(api["reachable"]["email"]))
    expect(page.get_by_test_id("rendered-sample")).to_contain_text("Dear Anna Petrova")
    expect(page.get_by_test_id("rendered-sample")).to_contain_text(
        "Service interruption at Birch Street"
    )
    check_landmarks(page)
    screenshot(page, "compose")

    page.get_by_role("button", name="Continue to send…").click()
    expect(page.get_by_test_id("confirm-count")).to_contain_text("This will go to 3 customers")
    check_landmarks(page)
    page.get_by_role("button", name="Send to 3 customers now").click()

    expect(page.get_by_test_id("progress-percent")).to_have_text("100%", timeout=60_000)
    expect(page.get_by_test_id("notification-status")).to_have_text("completed")
    check_landmarks(page)
    screenshot(page, "notification-detail")

    page.get_by_role("link", name="Outbox").click()
    for customer in town:
        row = page.get_by_role("row").filter(has_text=customer.email)
        expect(row).to_have_count(1)
    check_landmarks(page)
    screenshot(page, "outbox")
    expect(page.get_by_role("row").filter(has_text="else@example.com")).to_have_count(0)
    for customer in town:
        page.get_by_role("row").filter(has_text=customer.email).get_by_role("link").click()
        expect(page.get_by_test_id("outbox-body")).to_contain_text(f"Dear {customer.name}")
        page.go_back()
