"""The Django admin writes through the directory's rules."""

import pytest
from django.test import Client

from customers.models import Customer, Site
from customers.tests import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_a_site_added_in_the_admin_gets_its_place_in_the_tree(staff_browser):
    parent = helpers.tree()["AN1"]
    response = staff_browser.post(
        "/admin/customers/site/add/",
        {"code": "LM9", "name": "Last mile 9", "location": "Moscow", "parent": parent.pk},
    )
    assert response.status_code == 302, response.content[:500]
    site = Site.objects.get(code="LM9")
    assert site.path == f"{parent.path}{site.pk}/" and site.depth == 2


def test_moving_a_site_in_the_admin_moves_its_subtree(staff_browser):
    sites = helpers.tree()
    response = staff_browser.post(
        f"/admin/customers/site/{sites['LM1'].pk}/change/",
        {"code": "LM1", "name": "Last mile 1", "location": "Moscow", "parent": sites["AN2"].pk},
    )
    assert response.status_code == 302
    assert Site.objects.get(code="CAB1").path.startswith(sites["AN2"].path)


def test_the_admin_refuses_to_delete_a_site_in_use(staff_browser):
    sites = helpers.tree()
    helpers.customer(last_mile_site=sites["LM2"])
    staff_browser.post(f"/admin/customers/site/{sites['LM2'].pk}/delete/", {"post": "yes"})
    assert Site.objects.filter(code="LM2").exists()


def test_the_admin_normalises_phones_and_rejects_bad_ones(staff_browser):
    form = {
        "account_number": "ADM-1",
        "name": "Admin Made",
        "email": "Admin@Example.com",
        "phone": "79001234567",
        "timezone": "Europe/Moscow",
        "contact_window_start": "08:00",
        "contact_window_end": "22:00",
        "email_opt_in": "on",
        "sms_opt_in": "on",
        "is_active": "on",
    }
    assert staff_browser.post("/admin/customers/customer/add/", form).status_code == 302
    stored = Customer.objects.get(account_number="ADM-1")
    assert (stored.phone, stored.operator_code, stored.email) == (
        "+79001234567",
        "900",
        "admin@example.com",
    )
    bad = staff_browser.post(
        "/admin/customers/customer/add/",
        {**form, "account_number": "ADM-2", "email": "", "phone": "12", "timezone": "Mars"},
    )
    assert bad.status_code == 200 and not Customer.objects.filter(account_number="ADM-2").exists()
    assert staff_browser.get("/admin/customers/customer/").status_code == 200
