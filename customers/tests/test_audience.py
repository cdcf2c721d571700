"""Audience specs, the shared selector and the preview."""

import io

import pytest
from django.core.management import call_command

from conftest import client_for
from customers.api import AudienceSerializer
from customers.models import Customer, Site
from customers.selectors import audience_preview, customer_audience
from customers.tests import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    sites = helpers.tree()
    fibre, dsl = helpers.service("fibre"), helpers.service("dsl")
    return {
        "deep": helpers.customer(
            last_mile_site=sites["CAB1"], service_type=fibre, timezone="Europe/Moscow"
        ),
        "no_sms": helpers.customer(
            last_mile_site=sites["LM1"], service_type=dsl, sms_opt_in=False, tags=["vip"]
        ),
        "no_email": helpers.customer(
            last_mile_site=sites["LM2"], service_type=fibre, email="", timezone="Europe/Moscow"
        ),
        "no_phone": helpers.customer(last_mile_site=sites["POP2"], phone="", operator_code=""),
        "inactive": helpers.customer(last_mile_site=sites["CAB1"], is_active=False),
    }


def test_the_preview_counts_who_will_be_told(engineer, people):
    response = client_for(engineer).post(
        "/api/audiences/preview/", {"audience": {"last_mile_site": ["POP1"]}}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 3  # deep, no_sms, no_email; not the inactive one
    assert body["reachable"] == {"email": 2, "sms": 2}
    assert body["by_site"] == {"CAB1": 1, "LM1": 1, "LM2": 1}
    assert body["by_service_type"] == {"fibre": 2, "dsl": 1}
    assert body["by_timezone"] == {"Europe/Moscow": 2, "UTC": 1}
    assert {c["id"] for c in body["sample"]} == {
        people[k].pk for k in ("deep", "no_sms", "no_email")
    }
    assert body["sample"][0]["last_mile_site"] in {"CAB1", "LM1", "LM2"}


def test_filters_and_across_fields_and_or_within(people):
    both = customer_audience(audience={"last_mile_site": ["AN1", "AN2"], "service_type": ["fibre"]})
    assert set(both) == {people["deep"], people["no_email"]}
    tagged = customer_audience(audience={"tag": ["vip"], "customer_ids": [people["no_phone"].pk]})
    assert set(tagged) == {people["no_sms"], people["no_phone"]}
    everyone = customer_audience(audience={"all": True})
    assert people["inactive"] not in set(everyone) and everyone.count() == 4
    assert customer_audience(audience={}).count() == 0


def test_an_empty_audience_is_refused_with_a_reason(engineer_client):
    response = engineer_client.post("/api/audiences/preview/", {"audience": {}}, format="json")
    assert response.status_code == 400
    assert '{"all": true}' in str(response.json()["audience"])


def test_all_previews_every_active_customer(people):
    helpers.customer()  # no site, no service type
    preview = audience_preview(audience={"all": True})
    assert preview["count"] == 5
    assert preview["by_site"][""] == 1
    assert preview["by_service_type"][""] == 2  # this one and no_phone
    assert sum(preview["by_site"].values()) == 5


def test_unknown_codes_keys_and_ids_are_named(engineer, people):
    client = client_for(engineer)
    response = client.post(
        "/api/audiences/preview/",
        {"audience": {"last_mile_site": ["POP1", "ATLANTIS"], "service_type": ["warp"]}},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["audience"]
    assert "ATLANTIS" in errors["last_mile_site"][0] and "POP1" not in errors["last_mile_site"][0]
    assert "warp" in errors["service_type"][0]
    unknown_key = client.post(
        "/api/audiences/preview/", {"audience": {"region": ["x"]}}, format="json"
    )
    assert "region" in unknown_key.json()["audience"]
    ids = client.post(
        "/api/audiences/preview/", {"audience": {"customer_ids": [999999]}}, format="json"
    )
    assert "999999" in ids.json()["audience"]["customer_ids"][0]
    missing = client.post("/api/audiences/preview/", {}, format="json")
    assert missing.status_code == 400 and "audience" in missing.json()


def test_the_audience_serializer_fills_empty_lists(people):
    serializer = AudienceSerializer(data={"location": ["Moscow"]})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {
        "location": ["Moscow"],
        "last_mile_site": [],
        "service_type": [],
        "tag": [],
        "operator_code": [],
        "customer_ids": [],
        "all": False,
    }
    assert not AudienceSerializer(data={"location": "Moscow"}).is_valid()


def test_only_staff_preview(customer_user, anon_client):
    body = {"audience": {}}
    assert client_for(customer_user).post("/api/audiences/preview/", body).status_code == 403
    assert anon_client.post("/api/audiences/preview/", body, format="json").status_code == 401


def test_seed_demo_builds_a_provider_and_respects_if_empty():
    out = io.StringIO()
    call_command("seed_demo", customers=200, stdout=out)
    assert Customer.objects.count() == 200
    assert Site.objects.filter(depth=2).count() >= 200  # last-mile sites
    zones = set(Customer.objects.values_list("timezone", flat=True))
    assert {"Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk"} <= zones
    assert {"Europe/London", "America/New_York"} <= zones
    emails = list(Customer.objects.values_list("email", flat=True))
    assert len(set(emails)) == len(emails)
    import phonenumbers

    for phone in Customer.objects.values_list("phone", flat=True)[:50]:
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone))
    call_command("seed_demo", customers=50, if_empty=True, stdout=out)
    assert Customer.objects.count() == 200
    call_command("seed_demo", customers=50, stdout=out)
    assert Customer.objects.count() == 250
