"""Each customer field, good and bad, through the API (the import uses the
same functions; see test_import)."""

import datetime

import pytest

from conftest import client_for
from customers.models import Customer
from customers.validation import CodeLookups, clean_phone, customer_clean

pytestmark = pytest.mark.django_db


def _post(user, **fields):
    body = {"account_number": "A-1", "name": "Olga Morozova", **fields}
    return client_for(user).post("/api/customers/", body, format="json")


@pytest.mark.parametrize(
    ("given", "stored", "operator"),
    [
        ("79001234567", "+79001234567", "900"),
        ("+7 (912) 345-67-89", "+79123456789", "912"),
        ("89161234567", "+79161234567", "916"),
        ("+44 7911 123456", "+447911123456", "7911"),
        ("+1 212 736 4512", "+12127364512", "212"),
        ("", "", ""),
    ],
)
def test_it_normalises_phones_and_derives_the_operator(admin_user, given, stored, operator):
    response = _post(admin_user, phone=given)
    assert response.status_code == 201, response.json()
    assert response.json()["phone"] == stored
    assert response.json()["operator_code"] == operator


@pytest.mark.parametrize("bad", ["12345", "+7900", "phone me", "+999123456789", "7900123456789"])
def test_it_rejects_impossible_phones(admin_user, bad):
    response = _post(admin_user, phone=bad)
    assert response.status_code == 400
    assert "phone" in response.json()
    assert not Customer.objects.exists()


def test_it_keeps_an_operator_code_given_explicitly(admin_user):
    response = _post(admin_user, phone="79001234567", operator_code="777")
    assert response.json()["operator_code"] == "777"


def test_it_rejects_an_operator_code_that_is_not_digits(admin_user):
    response = _post(admin_user, operator_code="MTS")
    assert response.status_code == 400
    assert "operator_code" in response.json()


@pytest.mark.parametrize("good", ["olga@example.com", "Olga.M+notify@Mail.Example.RU"])
def test_it_accepts_and_lower_cases_emails(admin_user, good):
    response = _post(admin_user, email=good)
    assert response.status_code == 201
    assert response.json()["email"] == good.lower()


@pytest.mark.parametrize("bad", ["olga", "olga@", "@example.com", "olga@@example.com", "a b@c.de"])
def test_it_rejects_bad_emails(admin_user, bad):
    response = _post(admin_user, email=bad)
    assert response.status_code == 400
    assert "valid email" in response.json()["email"][0]


@pytest.mark.parametrize(
    "zone", ["Europe/Moscow", "Europe/London", "America/New_York", "Asia/Novosibirsk", "UTC"]
)
def test_it_accepts_iana_time_zones_including_those_with_dst(admin_user, zone):
    response = _post(admin_user, timezone=zone)
    assert response.status_code == 201
    assert response.json()["timezone"] == zone


@pytest.mark.parametrize("bad", ["MSK", "GMT+3", "Europe/Mosc", "+03:00", "Mars/Olympus"])
def test_it_rejects_names_that_are_not_iana_zones(admin_user, bad):
    response = _post(admin_user, timezone=bad)
    assert response.status_code == 400
    assert "IANA" in response.json()["timezone"][0]


def test_a_window_may_cross_midnight(admin_user):
    response = _post(admin_user, contact_window_start="22:00", contact_window_end="06:00")
    assert response.status_code == 201
    body = response.json()
    assert (body["contact_window_start"], body["contact_window_end"]) == ("22:00", "06:00")
    stored = Customer.objects.get()
    assert stored.contact_window_start == datetime.time(22, 0)


def test_the_default_window_is_eight_to_ten(admin_user):
    body = _post(admin_user).json()
    assert (body["contact_window_start"], body["contact_window_end"]) == ("08:00", "22:00")
    assert body["timezone"] == "UTC"
    assert body["email_opt_in"] is True and body["sms_opt_in"] is True


@pytest.mark.parametrize("bad", ["24:00", "8am", "08:60", "", "noon"])
def test_it_rejects_times_that_are_not_hh_mm(admin_user, bad):
    response = _post(admin_user, contact_window_start=bad or "x")
    assert response.status_code == 400
    assert "HH:MM" in response.json()["contact_window_start"][0]


EMPTY_WINDOW = "The contact window may not start and end at the same time"


def test_a_window_cannot_be_empty(admin_user):
    response = _post(admin_user, contact_window_start="09:00", contact_window_end="09:00")
    assert response.status_code == 400
    assert response.json()["contact_window_end"][0].startswith(EMPTY_WINDOW)
    assert not Customer.objects.exists()


def test_changing_one_end_to_meet_the_other_is_rejected(admin_user):
    created = _post(admin_user).json()
    response = client_for(admin_user).patch(
        f"/api/customers/{created['id']}/", {"contact_window_end": "08:00"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["contact_window_end"]
    assert response.json()["contact_window_end"][0].startswith(EMPTY_WINDOW)
    customer = Customer.objects.get(pk=created["id"])
    assert (str(customer.contact_window_start), str(customer.contact_window_end)) == (
        "08:00:00",
        "22:00:00",
    )


def test_unknown_site_and_service_codes_are_named(admin_user):
    response = _post(admin_user, last_mile_site="NOWHERE", service_type="teleport")
    assert response.status_code == 400
    assert "NOWHERE" in response.json()["last_mile_site"][0]
    assert "teleport" in response.json()["service_type"][0]


def test_account_number_and_name_are_required(admin_user):
    response = client_for(admin_user).post("/api/customers/", {"email": "x@y.z"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"account_number", "name"}


def test_duplicate_account_number_or_email_is_rejected(admin_user):
    _post(admin_user, email="olga@example.com")
    again = _post(admin_user)
    assert again.status_code == 400 and "account_number" in again.json()
    other = _post(admin_user, account_number="A-2", email="OLGA@example.com")
    assert other.status_code == 400 and "email" in other.json()
    assert Customer.objects.count() == 1


def test_many_customers_may_have_no_email(admin_user):
    assert _post(admin_user, account_number="A-1", email="").status_code == 201
    assert _post(admin_user, account_number="A-2", email="").status_code == 201


def test_booleans_and_tags(admin_user):
    response = _post(admin_user, sms_opt_in=False, tags=["vip", " hospital ", "vip"])
    assert response.json()["sms_opt_in"] is False
    assert response.json()["tags"] == ["hospital", "vip"]
    bad = _post(admin_user, account_number="A-2", is_active="maybe", tags="a,b")
    assert "is_active" in bad.json()
    assert "tags" in bad.json()


def test_a_non_object_body_is_rejected(admin_user):
    response = client_for(admin_user).post("/api/customers/", ["x"], format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Send the customer as a JSON object."]}
    assert not Customer.objects.exists()


def test_too_long_texts_are_rejected(admin_user):
    response = _post(admin_user, name="x" * 201, location="y" * 201)
    assert set(response.json()) == {"name", "location"}


def test_clean_reports_every_error_at_once():
    values, errors = customer_clean(
        {"account_number": " ", "email": "no", "phone": "1", "timezone": "Nowhere"},
        lookups=CodeLookups(),
        creating=True,
    )
    assert set(errors) == {"account_number", "name", "email", "phone", "timezone"}
    assert "email" not in values


def test_clean_phone_matches_the_library_for_shared_calling_codes():
    assert clean_phone("+77012345678") == ("+77012345678", "701")  # Kazakhstan shares +7
    assert clean_phone("+390612345678")[0] == "+390612345678"  # Italian leading zero
